//! Where committed applications go when `ARCHIVE_URL` names object storage
//! (`s3://bucket/prefix`, `gs://…`, `az://…`, `file:///folder`), through
//! `object_store`: every instance writes to the same place, and no
//! instance's disk holds an application once it is committed.
//!
//! An application is written as it is in a folder: its draft fills on this
//! instance's disk (its files encrypted if the archive is), sealed with
//! its claim, and committed only once that claim consumed the nonce. To
//! commit, the draft's files are uploaded under `files/<draft>/`, a part
//! at a time (never a whole photo in memory; at most 20 MiB of parts for
//! all the instance's uploads: [`parts`]), where nobody looks for them;
//! then `applications/<id>.json`, naming them, is created **only if it does
//! not exist** (a conditional create: `If-None-Match: *` on S3). That
//! create is the commit: before it, a reader sees nothing of the
//! application; after it, all of it; and a second writer's create fails,
//! so nothing replaces an application, and its files are removed. The
//! endpoint and credentials come from the variables `object_store` reads
//! (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ALLOW_HTTP`; the Google and Azure equivalents).

mod parts;

use std::path::Path as LocalPath;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use object_store::path::Path;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

/// How long one request to the storage may take, connecting included; how
/// often a failed one is tried again, and for how long at most. A storage
/// that does not answer fails a commit within about half a minute (the
/// delivery is then answered 503 and its sealed draft committed by the
/// sweep), instead of holding the delivery for minutes.
const REQUEST_TIMEOUT: &str = "20s";
const CONNECT_TIMEOUT: &str = "5s";
fn retry() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
        ..object_store::RetryConfig::default()
    }
}

/// The object storage an archive commits to.
pub(crate) struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// The URL as given, without its query, for the log.
    shown: String,
    /// The buffers its uploads read parts into.
    parts: Arc<parts::Parts>,
}

/// What an application's manifest says.
#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    application: String,
    /// The objects that hold its files, each named as in a folder.
    files: Vec<(String, String)>,
}

impl Objects {
    /// The storage `url` names, configured from the environment.
    pub(crate) fn open(url: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "s3" => {
                use object_store::aws::AmazonS3ConfigKey::Client;
                let builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url)
                    .with_retry(retry())
                    .with_config(Client(ClientConfigKey::Timeout), REQUEST_TIMEOUT)
                    .with_config(Client(ClientConfigKey::ConnectTimeout), CONNECT_TIMEOUT);
                Arc::new(builder.build().map_err(|e| e.to_string())?)
            }
            "gs" => {
                use object_store::gcp::GoogleConfigKey::Client;
                let builder = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .with_retry(retry())
                    .with_config(Client(ClientConfigKey::Timeout), REQUEST_TIMEOUT)
                    .with_config(Client(ClientConfigKey::ConnectTimeout), CONNECT_TIMEOUT);
                Arc::new(builder.build().map_err(|e| e.to_string())?)
            }
            "az" | "abfs" | "abfss" => {
                use object_store::azure::AzureConfigKey::Client;
                let builder = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .with_retry(retry())
                    .with_config(Client(ClientConfigKey::Timeout), REQUEST_TIMEOUT)
                    .with_config(Client(ClientConfigKey::ConnectTimeout), CONNECT_TIMEOUT);
                Arc::new(builder.build().map_err(|e| e.to_string())?)
            }
            "file" => {
                let folder = parsed.to_file_path().map_err(|()| "not a local path".to_owned())?;
                std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
                let store =
                    object_store::local::LocalFileSystem::new_with_prefix(&folder).map_err(|e| e.to_string())?;
                return Ok(Self::new(Arc::new(store), Path::default(), url.to_owned()));
            }
            other => return Err(format!("{other}:// is not s3://, gs://, az:// or file://")),
        };
        let shown = format!(
            "{}://{}{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or_default(),
            parsed.path()
        );
        Ok(Self::new(store, Path::from(parsed.path()), shown))
    }

    fn new(store: Arc<dyn ObjectStore>, prefix: Path, shown: String) -> Self {
        Self {
            store,
            prefix,
            shown,
            parts: parts::Parts::new(),
        }
    }

    /// Where the archive commits, for the log.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    fn manifest(&self, application: &str) -> Path {
        self.prefix
            .clone()
            .join("applications")
            .join(format!("{application}.json"))
    }

    fn attempt(&self, draft: &str) -> Path {
        self.prefix.clone().join("files").join(draft)
    }

    /// Uploads the files of the draft folder `folder` (named `draft`) and
    /// creates application `id`'s manifest if it does not exist: true if
    /// this call created it; false if it existed (the uploads are removed).
    pub(crate) async fn commit(&self, id: &str, folder: &LocalPath, draft: &str) -> object_store::Result<bool> {
        let mut names = Vec::new();
        let mut entries = tokio::fs::read_dir(folder).await.map_err(io)?;
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        let mut files = Vec::new();
        for name in names {
            let object = self.attempt(draft).join(name.as_str());
            self.upload(&folder.join(&name), &object).await?;
            files.push((name, object.to_string()));
        }
        let manifest = Manifest {
            application: id.to_owned(),
            files,
        };
        let body = serde_json::to_vec(&manifest).map_err(|e| io(std::io::Error::other(e)))?;
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&self.manifest(id), PutPayload::from(body), create)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => {
                // This draft's own commit, repeated after a crash: its files
                // are the application's.
                if self.committed_from(id, draft).await? {
                    return Ok(true);
                }
                self.remove_attempt(draft).await;
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    /// Whether application `id`'s manifest names the files of `draft`.
    async fn committed_from(&self, id: &str, draft: &str) -> object_store::Result<bool> {
        let manifest = self.store.get(&self.manifest(id)).await?.bytes().await?;
        let manifest: Manifest = serde_json::from_slice(&manifest).map_err(|e| io(std::io::Error::other(e)))?;
        let ours = format!("{}/", self.attempt(draft));
        Ok(manifest.files.iter().all(|(_, object)| object.starts_with(&ours)))
    }

    /// Streams the local file at `path` into `object`, a part at a time;
    /// an upload that fails is aborted (its parts removed).
    async fn upload(&self, path: &LocalPath, object: &Path) -> object_store::Result<()> {
        let path = path.to_owned();
        let file = tokio::task::spawn_blocking(move || std::fs::File::open(path))
            .await
            .map_err(|e| io(std::io::Error::other(e)))?
            .map_err(io)?;
        let mut upload = self.store.put_multipart(object).await?;
        match parts::upload(&self.parts, file, upload.as_mut()).await {
            Ok(()) => upload.complete().await.map(drop),
            Err(error) => {
                let _ = upload.abort().await;
                Err(error)
            }
        }
    }

    /// Removes what a draft uploaded (best effort: a leftover names no
    /// application and is listed by no manifest).
    async fn remove_attempt(&self, draft: &str) {
        let mut listed = self.store.list(Some(&self.attempt(draft)));
        while let Some(Ok(meta)) = listed.next().await {
            let _ = self.store.delete(&meta.location).await;
        }
    }

    /// Creates a probe object beside `applications/` twice, each time only
    /// if it does not exist, and removes it (for `--check`): true if the
    /// store refused the second create, as the commit needs; false if it
    /// replaced the object (a store that ignores conditional writes).
    pub(crate) async fn probe(&self) -> object_store::Result<bool> {
        let name = telegram_passport::generate_nonce().map_err(|e| io(std::io::Error::other(e)))?;
        let probe = self.prefix.clone().join(format!("check-{name}"));
        let create = || PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let body = || PutPayload::from_static(b"kyc_backend --check: safe to remove\n");
        self.store.put_opts(&probe, body(), create()).await?;
        let refused = match self.store.put_opts(&probe, body(), create()).await {
            Ok(_) => false,
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => true,
            Err(error) => {
                let _ = self.store.delete(&probe).await;
                return Err(error);
            }
        };
        match self.store.delete(&probe).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(refused),
            Err(error) => Err(error),
        }
    }

    /// Whether application `id` is committed here.
    pub(crate) async fn holds(&self, id: &str) -> object_store::Result<bool> {
        match self.store.head(&self.manifest(id)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Removes application `id`: its files, then its manifest; true if it
    /// was here. Run again after a failure, it finishes.
    pub(crate) async fn erase(&self, id: &str) -> object_store::Result<bool> {
        let manifest = match self.store.get(&self.manifest(id)).await {
            Ok(found) => found.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(error) => return Err(error),
        };
        let manifest: Manifest = serde_json::from_slice(&manifest).map_err(|e| io(std::io::Error::other(e)))?;
        for (_, object) in &manifest.files {
            match self.store.delete(&Path::from(object.as_str())).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        // Another instance's sweep may be erasing it too.
        match self.store.delete(&self.manifest(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(true),
            Err(error) => Err(error),
        }
    }

    /// The applications committed more than `age` ago, oldest first.
    pub(crate) async fn stored_before(&self, age: Duration) -> object_store::Result<Vec<String>> {
        let mut found = Vec::new();
        let mut listed = self.store.list(Some(&self.prefix.clone().join("applications")));
        let now = std::time::SystemTime::now();
        while let Some(meta) = listed.next().await {
            let meta = meta?;
            let Some(id) = meta.location.filename().and_then(|name| name.strip_suffix(".json")) else {
                continue;
            };
            let stored = std::time::SystemTime::from(meta.last_modified);
            if now.duration_since(stored).unwrap_or_default() > age {
                found.push((stored, id.to_owned()));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }
}

fn io(error: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "archive",
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A draft folder holding `files`.
    fn draft(root: &LocalPath, name: &str, files: &[(&str, &[u8])]) -> std::path::PathBuf {
        let folder = root.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for (file, bytes) in files {
            std::fs::write(folder.join(file), bytes).unwrap();
        }
        folder
    }

    /// The conditional create is the commit: the first draft's files are
    /// the application's; a second draft of it is refused and its uploads
    /// removed; the first draft's commit repeated (after a crash) is its
    /// own; then erased, once.
    async fn one_commit_per_application(objects: &Objects, root: &LocalPath) {
        let id = "app-1";
        let big: Vec<u8> = (0..(parts::PART + 1000)).map(|i| (i % 253) as u8).collect();
        let a = draft(
            root,
            "draft-a",
            &[("photo.jpg", &big), ("application.json", b"{\"a\":1}")],
        );
        let b = draft(
            root,
            "draft-b",
            &[("photo.jpg", b"another"), ("application.json", b"{\"b\":1}")],
        );
        assert!(!objects.holds(id).await.unwrap());
        assert!(objects.commit(id, &a, "draft-a").await.unwrap());
        assert!(objects.holds(id).await.unwrap());
        assert!(
            !objects.commit(id, &b, "draft-b").await.unwrap(),
            "a second writer is refused"
        );
        assert!(
            objects.commit(id, &a, "draft-a").await.unwrap(),
            "its own commit, again"
        );
        let manifest = objects
            .store
            .get(&objects.manifest(id))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let manifest: Manifest = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(manifest.files.len(), 2);
        let photo = &manifest.files.iter().find(|(name, _)| name == "photo.jpg").unwrap().1;
        let stored = objects
            .store
            .get(&Path::from(photo.as_str()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), &big[..], "uploaded in parts, whole");
        let listed: Vec<_> = objects.store.list(Some(&objects.attempt("draft-b"))).collect().await;
        assert!(listed.is_empty(), "the refused draft's uploads are gone");
        assert_eq!(
            objects.stored_before(Duration::ZERO).await.unwrap(),
            vec![id.to_owned()]
        );
        assert!(objects
            .stored_before(Duration::from_secs(3600))
            .await
            .unwrap()
            .is_empty());
        assert!(objects.erase(id).await.unwrap());
        assert!(!objects.holds(id).await.unwrap());
        assert!(!objects.erase(id).await.unwrap());
        let listed: Vec<_> = objects.store.list(Some(&objects.attempt("draft-a"))).collect().await;
        assert!(listed.is_empty(), "erased with its files");
    }

    #[tokio::test]
    async fn in_a_local_folder() {
        let root = tempfile::tempdir().unwrap();
        let url = format!("file://{}", root.path().join("archive").display());
        let objects = Objects::open(&url).unwrap();
        one_commit_per_application(&objects, root.path()).await;
    }

    #[tokio::test]
    #[cfg_attr(no_s3_server, ignore = "needs moto_server (pip install 'moto[server]')")]
    async fn on_an_s3_compatible_server() {
        let server = telegram_passport_dev_support::s3_server::start();
        server.create_bucket("kyc");
        let store = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name("kyc")
            .with_endpoint(&server.endpoint)
            .with_allow_http(true)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .with_region("us-east-1")
            .build()
            .unwrap();
        let objects = Objects::new(Arc::new(store), Path::from("prefix"), String::new());
        let root = tempfile::tempdir().unwrap();
        one_commit_per_application(&objects, root.path()).await;
        assert!(Objects::open("ftp://x/y").is_err());

        // Restarted (killed, started again on its log): what was committed
        // is there, and still cannot be replaced.
        let a = draft(
            root.path(),
            "draft-c",
            &[("photo.jpg", b"kept"), ("application.json", b"{}")],
        );
        assert!(objects.commit("app-2", &a, "draft-c").await.unwrap());
        let server = tokio::task::spawn_blocking(move || server.restart()).await.unwrap();
        assert!(objects.holds("app-2").await.unwrap());
        let b = draft(
            root.path(),
            "draft-d",
            &[("photo.jpg", b"other"), ("application.json", b"{}")],
        );
        assert!(!objects.commit("app-2", &b, "draft-d").await.unwrap());
        let photo = Path::from("prefix/files/draft-c/photo.jpg");
        let kept = objects.store.get(&photo).await.unwrap().bytes().await.unwrap();
        assert_eq!(kept.as_ref(), b"kept");
        drop(server);
    }
}
