//! The store's table and functions, and what their answers mean.
//!
//! One row per nonce. Each operation is one call of a PL/pgSQL function
//! that locks the nonce's row (`SELECT … FOR UPDATE`), decides, and
//! updates it, in the statement's own transaction: of any number of
//! concurrent callers, the row lock orders them and each sees what the one
//! before it wrote. The functions answer as the Redis store's scripts do
//! (status, context, fencing token, lease left in ms), with the same
//! statuses, so one mapping ([`refusal`]) serves both.
//!
//! The schema is versioned in a table of its own and created or migrated
//! by the store, under an advisory lock, so instances that start together
//! do not race each other's DDL.

/// The server's clock now plus `$1` µs: a call's deadline, in µs since the
/// epoch, as the functions take it.
pub(super) const DEADLINE: &str = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + $1";

/// The version this code writes and reads; each step below brings the
/// schema from the version before it.
pub(super) const VERSION: i32 = 1;

/// A table name the store accepts: lower-case ASCII letters, digits and
/// `_`, starting with a letter, at most 40 bytes (its functions' names
/// add a suffix within PostgreSQL's 63).
pub(super) fn is_table_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 40
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// The statements of migration step `version` (1-based) for table `t`.
pub(super) fn step(t: &str, version: i32) -> Vec<String> {
    match version {
        1 => version_1(t),
        _ => Vec::new(),
    }
}

/// The table, its index for removing forgotten rows, and the functions.
fn version_1(t: &str) -> Vec<String> {
    let ms = "* interval '1 millisecond'";
    let left = "greatest(1, ceil(extract(epoch from (r.claim_ends - now_)) * 1000))::bigint";
    // Every function but issue and peek starts the same way: the row,
    // locked; then the deadline, checked after any wait for the lock.
    let locked = format!(
        "SELECT * INTO r FROM {t} WHERE nonce = p_nonce AND forget_at > clock_timestamp() FOR UPDATE;
  now_ := clock_timestamp();
  IF now_ > to_timestamp(p_deadline_us / 1000000.0) THEN status := 4; RETURN; END IF;
  IF NOT FOUND THEN RETURN; END IF;"
    );
    let answer = "OUT status int, OUT context text, OUT token bigint, OUT left_ms bigint";
    let start = "status := 0; context := ''; token := 0; left_ms := 0;";
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (
  nonce text PRIMARY KEY,
  context text NOT NULL,
  live_until timestamptz NOT NULL,
  forget_at timestamptz NOT NULL,
  consumed_by text,
  claim_token bigint NOT NULL DEFAULT 0,
  claim_holder text,
  claim_submission text,
  claim_ends timestamptz,
  released text[] NOT NULL DEFAULT '{{}}'
)"
        ),
        format!("CREATE INDEX IF NOT EXISTS {t}_forget_at ON {t} (forget_at)"),
        // Inserts a fresh nonce (false if it exists), and removes up to 64
        // forgotten rows, skipping any another caller holds.
        format!(
            "CREATE OR REPLACE FUNCTION {t}_issue(p_nonce text, p_context text, p_ttl_ms bigint, p_retention_ms bigint)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE now_ timestamptz := clock_timestamp(); stored boolean;
BEGIN
  DELETE FROM {t} WHERE nonce IN (
    SELECT nonce FROM {t} WHERE forget_at <= now_ ORDER BY forget_at LIMIT 64 FOR UPDATE SKIP LOCKED);
  INSERT INTO {t} (nonce, context, live_until, forget_at)
    VALUES (p_nonce, p_context, now_ + p_ttl_ms {ms}, now_ + (p_ttl_ms + p_retention_ms) {ms})
    ON CONFLICT (nonce) DO NOTHING;
  GET DIAGNOSTICS stored = ROW_COUNT;
  RETURN stored;
END $$"
        ),
        // A consume with the call's token: its retry gets the context again.
        format!(
            "CREATE OR REPLACE FUNCTION {t}_consume(p_nonce text, p_token text, p_retention_ms bigint, p_deadline_us bigint, {answer})
LANGUAGE plpgsql AS $$
DECLARE now_ timestamptz; r {t}%ROWTYPE;
BEGIN
  {start}
  {locked}
  IF r.consumed_by = 'call:' || p_token THEN status := 1; context := r.context; RETURN; END IF;
  IF r.consumed_by IS NOT NULL THEN status := 2; RETURN; END IF;
  IF r.live_until <= now_ THEN status := 3; RETURN; END IF;
  UPDATE {t} SET consumed_by = 'call:' || p_token, forget_at = now_ + p_retention_ms {ms} WHERE nonce = p_nonce;
  status := 1; context := r.context;
END $$"
        ),
        format!(
            "CREATE OR REPLACE FUNCTION {t}_peek(p_nonce text, {answer})
LANGUAGE plpgsql AS $$
DECLARE now_ timestamptz := clock_timestamp(); r {t}%ROWTYPE;
BEGIN
  {start}
  SELECT * INTO r FROM {t} WHERE nonce = p_nonce AND forget_at > now_;
  IF NOT FOUND THEN RETURN; END IF;
  IF r.consumed_by IS NOT NULL THEN status := 2; RETURN; END IF;
  IF r.live_until <= now_ THEN status := 3; RETURN; END IF;
  status := 1; context := r.context;
END $$"
        ),
        // Status 5: claimed by another, with its token and lease left.
        format!(
            "CREATE OR REPLACE FUNCTION {t}_claim(p_nonce text, p_holder text, p_submission text, p_lease_ms bigint,
  p_retention_ms bigint, p_deadline_us bigint, {answer})
LANGUAGE plpgsql AS $$
DECLARE now_ timestamptz; r {t}%ROWTYPE;
BEGIN
  {start}
  {locked}
  IF r.consumed_by IS NOT NULL THEN status := 2; RETURN; END IF;
  IF r.claim_ends > now_ AND r.claim_holder = p_holder AND r.claim_submission = p_submission THEN
    status := 1; context := r.context; token := r.claim_token; left_ms := {left}; RETURN;
  END IF;
  IF r.live_until <= now_ THEN status := 3; RETURN; END IF;
  IF r.claim_ends > now_ THEN status := 5; token := r.claim_token; left_ms := {left}; RETURN; END IF;
  token := r.claim_token + 1;
  UPDATE {t} SET claim_token = token, claim_holder = p_holder, claim_submission = p_submission,
    claim_ends = now_ + p_lease_ms {ms},
    forget_at = greatest(forget_at, now_ + (p_lease_ms + p_retention_ms) {ms})
    WHERE nonce = p_nonce;
  status := 1; context := r.context; left_ms := p_lease_ms;
END $$"
        ),
        // Status 6: the claim was released or a later claim was made.
        format!(
            "CREATE OR REPLACE FUNCTION {t}_consume_claimed(p_nonce text, p_token bigint, p_holder text,
  p_retention_ms bigint, p_deadline_us bigint, {answer})
LANGUAGE plpgsql AS $$
DECLARE now_ timestamptz; r {t}%ROWTYPE; mine text := 'claim:' || p_token || ':' || p_holder;
BEGIN
  {start}
  {locked}
  IF r.consumed_by = mine THEN status := 1; context := r.context; RETURN; END IF;
  IF r.claim_token <> p_token OR r.claim_holder IS DISTINCT FROM p_holder THEN status := 6; RETURN; END IF;
  IF (p_token || ':' || p_holder) = ANY (r.released) THEN status := 6; RETURN; END IF;
  IF r.consumed_by IS NOT NULL THEN status := 2; RETURN; END IF;
  UPDATE {t} SET consumed_by = mine, forget_at = now_ + p_retention_ms {ms} WHERE nonce = p_nonce;
  status := 1; context := r.context;
END $$"
        ),
        format!(
            "CREATE OR REPLACE FUNCTION {t}_release(p_nonce text, p_token bigint, p_holder text, p_deadline_us bigint, {answer})
LANGUAGE plpgsql AS $$
DECLARE now_ timestamptz; r {t}%ROWTYPE; mine text := p_token || ':' || p_holder;
BEGIN
  {start}
  {locked}
  IF r.claim_token = p_token AND r.claim_holder = p_holder THEN
    IF r.consumed_by IS NOT NULL THEN status := 2; RETURN; END IF;
    UPDATE {t} SET claim_ends = '-infinity',
      released = CASE WHEN mine = ANY (released) THEN released ELSE array_append(released, mine) END
      WHERE nonce = p_nonce;
    status := 1; RETURN;
  END IF;
  IF mine = ANY (r.released) THEN status := 1; RETURN; END IF;
  status := 6;
END $$"
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for good in ["telegram_passport_nonces", "a", "kyc_2", &"a".repeat(40)] {
            assert!(is_table_name(good), "{good}");
        }
        for bad in ["", "1a", "_a", "A", "a-b", "a b", "a;drop", "ä", &"a".repeat(41)] {
            assert!(!is_table_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_step_names_its_table_only() {
        let statements = step("kyc_nonces", 1);
        assert!(statements.len() > 5);
        assert!(statements.iter().all(|s| s.contains("kyc_nonces")));
        assert!(step("kyc_nonces", VERSION + 1).is_empty());
    }
}
