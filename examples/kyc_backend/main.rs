//! A small KYC backend on Telegram Passport: users open a link, share their
//! documents through Telegram, and the service decrypts, checks and stores
//! them, or tells the user what to fix.
//!
//! ```text
//! TELEGRAM_BOT_TOKEN=123456:ABC... PASSPORT_PRIVATE_KEY=private.key WEBHOOK_SECRET=long-random-text \
//!     RUST_LOG=info cargo run --example kyc_backend
//! ```
//!
//! Optional: `BOT_API_URL` (default `https://api.telegram.org`), `DATA_DIR`
//! (default `kyc-data`), `LISTEN` (default `127.0.0.1:8080`). Register the
//! webhook (`setWebhook` with `url=https://your.host/telegram/webhook` and
//! `secret_token=$WEBHOOK_SECRET`) and the public key (`/setpublickey` with
//! BotFather) once. Logs never contain secrets or personal data.

mod app;

use std::process::ExitCode;

use telegram_passport::PrivateKey;

const USAGE: &str = "\
kyc_backend needs these environment variables:
  TELEGRAM_BOT_TOKEN    the bot's token from BotFather, e.g. 123456:ABC-DEF...
  PASSPORT_PRIVATE_KEY  path to the bot's RSA private key (PEM), whose public key is registered with BotFather
  WEBHOOK_SECRET        the secret_token given to setWebhook (1-256 characters A-Z, a-z, 0-9, _ and -)
optional:
  BOT_API_URL           default https://api.telegram.org
  DATA_DIR              where verified applications are stored, default kyc-data
  LISTEN                address to serve on, default 127.0.0.1:8080
  RUST_LOG              log level, e.g. info";

fn config() -> Result<(app::Config, String), String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let missing: Vec<&str> = ["TELEGRAM_BOT_TOKEN", "PASSPORT_PRIVATE_KEY", "WEBHOOK_SECRET"]
        .into_iter()
        .filter(|name| var(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing {}\n\n{USAGE}", missing.join(", ")));
    }
    let key_path = var("PASSPORT_PRIVATE_KEY").unwrap_or_default();
    let pem =
        std::fs::read_to_string(&key_path).map_err(|e| format!("PASSPORT_PRIVATE_KEY: cannot read {key_path}: {e}"))?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| format!("PASSPORT_PRIVATE_KEY: {e}"))?;
    let config = app::Config {
        bot_token: var("TELEGRAM_BOT_TOKEN").unwrap_or_default(),
        key,
        webhook_secret: var("WEBHOOK_SECRET").unwrap_or_default(),
        bot_api_url: var("BOT_API_URL").unwrap_or_else(|| "https://api.telegram.org".to_owned()),
        data_dir: var("DATA_DIR").unwrap_or_else(|| "kyc-data".to_owned()).into(),
        today: None,
    };
    Ok((config, var("LISTEN").unwrap_or_else(|| "127.0.0.1:8080".to_owned())))
}

#[tokio::main]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (config, listen) = match config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let served = async {
        let router = app::router(config)?;
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        log::info!("serving on http://{listen} (webhook: /telegram/webhook, start: /start)");
        axum::serve(listener, router).await?;
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    };
    match served.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kyc_backend: {error}");
            ExitCode::FAILURE
        }
    }
}
