//! The store's Lua scripts, each atomic on the server (their answers are
//! read in `nonce::answer`). Each script's keys share one hash tag, so a
//! cluster runs it on the one node that holds them.

pub(super) const ISSUE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], 'issued', 'PX', ARGV[3])
  return 1
end
return 0
";

// ARGV: retention (ms), the call's token, its deadline (server clock, µs).
pub(super) const CONSUME: &str = r"
local now = redis.call('TIME')
if tonumber(now[1]) * 1000000 + tonumber(now[2]) > tonumber(ARGV[3]) then return {4, ''} end
local context = redis.call('GET', KEYS[1])
if context then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], 'consumed:' .. ARGV[2] .. ':' .. context, 'PX', ARGV[1])
  return {1, context}
end
local seen = redis.call('GET', KEYS[2])
if not seen then return {0, ''} end
local mine = 'consumed:' .. ARGV[2] .. ':'
if string.sub(seen, 1, string.len(mine)) == mine then return {1, string.sub(seen, string.len(mine) + 1)} end
if string.sub(seen, 1, 8) == 'consumed' then return {2, ''} end
return {3, ''}
";

// Answers as consume does, consuming nothing.
pub(super) const PEEK: &str = r"
local context = redis.call('GET', KEYS[1])
if context then return {1, context} end
local seen = redis.call('GET', KEYS[2])
if not seen then return {0, ''} end
if string.sub(seen, 1, 8) == 'consumed' then return {2, ''} end
return {3, ''}
";

// KEYS: live, seen, claim. ARGV: holder, submission digest, lease (ms),
// retention (ms), deadline (server clock, µs). Answers {status, context,
// fencing token, lease left (ms)}; status 5: claimed by another.
pub(super) const CLAIM: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
if now > tonumber(ARGV[5]) then return {4, '', 0, 0} end
local ms = math.floor(now / 1000)
local seen = redis.call('GET', KEYS[2])
if not seen then return {0, '', 0, 0} end
if string.sub(seen, 1, 8) == 'consumed' then return {2, '', 0, 0} end
local c = redis.call('HMGET', KEYS[3], 'token', 'holder', 'submission', 'ends', 'context')
local token = tonumber(c[1]) or 0
local ends = tonumber(c[4]) or 0
if ends > ms and c[2] == ARGV[1] and c[3] == ARGV[2] then return {1, c[5], token, ends - ms} end
local context = redis.call('GET', KEYS[1])
if not context then return {3, '', 0, 0} end
if ends > ms then return {5, '', token, ends - ms} end
token = token + 1
local lease = tonumber(ARGV[3])
redis.call('HSET', KEYS[3], 'token', token, 'holder', ARGV[1], 'submission', ARGV[2], 'ends', ms + lease, 'context', context)
local keep = math.max(redis.call('PTTL', KEYS[2]), lease + tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[2], keep)
redis.call('PEXPIRE', KEYS[3], keep)
return {1, context, token, lease}
";

// KEYS: live, seen, claim. ARGV: token, holder, retention (ms), deadline.
// Status 6: the claim was released or a later claim was made.
pub(super) const CONSUME_CLAIMED: &str = r"
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000000 + tonumber(clock[2]) > tonumber(ARGV[4]) then return {4, ''} end
local seen = redis.call('GET', KEYS[2])
if not seen then return {0, ''} end
local mine = 'consumed:claim.' .. ARGV[1] .. '.' .. ARGV[2] .. ':'
if string.sub(seen, 1, string.len(mine)) == mine then return {1, string.sub(seen, string.len(mine) + 1)} end
local c = redis.call('HMGET', KEYS[3], 'token', 'holder', 'context')
if c[1] ~= ARGV[1] or c[2] ~= ARGV[2] then return {6, ''} end
if redis.call('HEXISTS', KEYS[3], 'released:' .. ARGV[1]) == 1 then return {6, ''} end
if string.sub(seen, 1, 8) == 'consumed' then return {2, ''} end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], mine .. c[3], 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return {1, c[3]}
";

// KEYS: live, seen, claim. ARGV: token, holder, deadline.
pub(super) const RELEASE: &str = r"
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000000 + tonumber(clock[2]) > tonumber(ARGV[3]) then return {4, ''} end
local seen = redis.call('GET', KEYS[2])
if not seen then return {0, ''} end
local c = redis.call('HMGET', KEYS[3], 'token', 'holder')
if c[1] == ARGV[1] and c[2] == ARGV[2] then
  if string.sub(seen, 1, 8) == 'consumed' then return {2, ''} end
  redis.call('HSET', KEYS[3], 'ends', 0, 'released:' .. ARGV[1], ARGV[2])
  return {1, ''}
end
if redis.call('HGET', KEYS[3], 'released:' .. ARGV[1]) == ARGV[2] then return {1, ''} end
return {6, ''}
";

// The server's clock, read on the node that holds KEYS[1] (on a cluster,
// the node the consume script will run on).
pub(super) const TIME: &str = "return redis.call('TIME')";

/// A Lua script, run by `EVALSHA` and, if the server does not know it yet,
/// by `EVAL`. Both name the script's keys, so a cluster runs it on the one
/// node that holds them (the redis crate's `SCRIPT LOAD` would go to every
/// node, and wait for a stalled one).
pub(super) struct Lua {
    code: &'static str,
    hash: String,
}

impl Lua {
    pub(super) fn new(code: &'static str) -> Self {
        let hash = redis::Script::new(code).get_hash().to_owned();
        Self { code, hash }
    }

    fn commands(&self, keys: &[&str], args: &[String]) -> [redis::Cmd; 2] {
        let call = |verb: &str, body: &str| {
            let mut command = redis::cmd(verb);
            command.arg(body).arg(keys.len()).arg(keys).arg(args);
            command
        };
        [call("EVALSHA", &self.hash), call("EVAL", self.code)]
    }

    pub(super) fn run<T: redis::FromRedisValue>(
        &self,
        connection: &mut dyn redis::ConnectionLike,
        keys: &[&str],
        args: &[String],
    ) -> redis::RedisResult<T> {
        let [known, full] = self.commands(keys, args);
        match known.query(connection) {
            Err(error) if unknown_script(&error) => full.query(connection),
            result => result,
        }
    }

    #[cfg(feature = "redis-async")]
    pub(super) async fn run_async<T: redis::FromRedisValue>(
        &self,
        connection: &mut super::connection::AsyncConnection,
        keys: &[&str],
        args: &[String],
    ) -> redis::RedisResult<T> {
        let [known, full] = self.commands(keys, args);
        match known.query_async(connection).await {
            Err(error) if unknown_script(&error) => full.query_async(connection).await,
            result => result,
        }
    }
}

fn unknown_script(error: &redis::RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}
