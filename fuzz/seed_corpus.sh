#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs made from the project's test
# fixtures (tests/data/) and a few hand-written samples. Deterministic: the
# same fixtures give the same files. Seeds are named seed-*; inputs the
# fuzzer found and kept in the same directories are left alone.
#
#   fuzz/seed_corpus.sh           write the seeds
#   fuzz/seed_corpus.sh --clean   first empty every corpus directory
#
# Needs bash, jq, xxd and base64 (coreutils).
set -euo pipefail

fuzz="$(cd "$(dirname "$0")" && pwd)"
data="$fuzz/../tests/data"
corpus="$fuzz/corpus"

for tool in jq xxd base64; do
  command -v "$tool" >/dev/null 2>&1 || { echo "seed_corpus.sh: needs $tool" >&2; exit 1; }
done

targets=(primitive padding_strip stream file_limits credentials_json personal_details id_document address
  passport_data passport_decrypt scope deep_link mtproto mtproto_tl)
if [ "${1:-}" = "--clean" ]; then
  rm -rf "$corpus"
fi
for target in "${targets[@]}"; do
  mkdir -p "$corpus/$target"
done

b64() { base64 -d; } # base64 text on stdin -> bytes
hex2b64() { printf '%s' "$1" | xxd -r -p | base64 -w0; }
seed() { cat > "$corpus/$1/seed-$2"; } # seed TARGET NAME < bytes

# Symmetric primitive vectors: secret (32 bytes) || hash (32) || ciphertext.
# The stream target reads a piece-size list between the hash and the
# ciphertext: a count, then that many sizes; file_limits a 2-byte limit.
for vector in "$data"/primitive/*.json; do
  name="$(basename "$vector" .json)"
  file_input() {
    jq -r .secret "$vector" | b64
    jq -r .hash "$vector" | b64
    printf "$1"
    jq -r .ciphertext "$vector" | b64
  }
  file_input '' | seed primitive "$name"
  file_input '' | seed padding_strip "$name"
  file_input '\000' | seed stream "$name-whole"
  file_input '\001\001' | seed stream "$name-bytes"
  file_input '\003\017\020\021' | seed stream "$name-15-16-17"
  file_input '\002\377\007' | seed stream "$name-255-7"
  file_input '\377\377' | seed file_limits "$name-no-limit"
  file_input '\040\000' | seed file_limits "$name-32"
done

# Passport fixtures: bare PassportData, a Message and an Update carrying one.
for fixture in full payload_legacy wrong_key wrong_key_same_size; do
  jq -c .passport_data "$data/passport/$fixture.json" | seed passport_data "$fixture"
done
jq -c .update "$data/passport/update.json" | seed passport_data update
jq -c '{message_id: 1, passport_data: .passport_data}' "$data/passport/full.json" | seed passport_data message
jq -c '.passport_data | .data |= .[0:1]' "$data/passport/full.json" | seed passport_data one-element

# Decrypted values: every fixture's expected data, and samples with
# unknown fields, empty optional strings and unusual values.
for fixture in "$data"/passport/*.json; do
  name="$(basename "$fixture" .json)"
  pick() { jq -c --arg types "$1" '.expected.elements // [] | .[] | select(.data != null)
    | select(.type as $t | $types | split(",") | index($t)) | .data' "$fixture"; }
  i=0
  while IFS= read -r json; do
    i=$((i + 1))
    printf '%s' "$json" | seed personal_details "$name-$i"
  done < <(pick personal_details)
  i=0
  while IFS= read -r json; do
    i=$((i + 1))
    printf '%s' "$json" | seed id_document "$name-$i"
  done < <(pick passport,driver_license,identity_card,internal_passport)
  i=0
  while IFS= read -r json; do
    i=$((i + 1))
    printf '%s' "$json" | seed address "$name-$i"
  done < <(pick address)
done
printf '%s' '{"first_name":"A","last_name":"B","middle_name":"","birth_date":"31.02.2001","gender":"other","country_code":"XX","residence_country_code":"","first_name_native":"","extra":{"nested":[1,2]}}' |
  seed personal_details tolerant
printf '%s' '{"first_name":"\u00e9","last_name":"\ud83d\ude00","birth_date":"","gender":"","country_code":"gb","residence_country_code":"GB"}' |
  seed personal_details escapes
printf '%s' '{"document_no":"","expiry_date":"","unknown":null}' | seed id_document tolerant
printf '%s' '{"document_no":"X\u0000Y","expiry_date":"29.02.2100"}' | seed id_document escapes
printf '%s' '{"street_line1":"","street_line2":"","city":"","state":"","country_code":"","post_code":"","x":1}' |
  seed address tolerant

# Decrypted credentials JSON: the MTProto fixture's secrets in the Bot API
# credentials form, and minimal and legacy forms.
credentials="$(jq -c '{
  secure_data: (.values | map({key: .type, value: ({
    data: (.data | if . then {data_hash, secret} else null end),
    front_side: (.front_side | if . then {file_hash, secret} else null end),
    reverse_side: (.reverse_side | if . then {file_hash, secret} else null end),
    selfie: (.selfie | if . then {file_hash, secret} else null end),
    translation: ((.translation // []) | map({file_hash, secret})),
    files: ((.files // []) | map({file_hash, secret}))
  } | with_entries(select(.value != null and .value != [])))}) | from_entries),
  nonce}' "$data/passport/mtproto.json")"
for hex in $(grep -oE '[0-9a-f]{64}' <<<"$credentials" | sort -u); do
  credentials="${credentials//$hex/$(hex2b64 "$hex")}"
done
printf '%s' "$credentials" | seed credentials_json mtproto-fixture
seed mtproto_tl mtproto-fixture < "$data/passport/mtproto.tl"
printf '%s' '{"secure_data":{},"nonce":"n"}' | seed credentials_json minimal
printf '%s' '{"secure_data":{"email":{}},"payload":"legacy"}' | seed credentials_json legacy-payload
printf '%s' '{"secure_data":{"passport":{"data":{"data_hash":"","secret":"AA=="}}},"nonce":1}' |
  seed credentials_json wrong-types

# Scopes, long and compact, with aliases, groups and loose flags.
scopes=(
  '{"v":1,"data":[{"type":"personal_details","native_names":true},"address","phone_number","email",{"one_of":[{"type":"passport","selfie":true,"translation":true},"internal_passport","driver_license","identity_card"]},{"one_of":["utility_bill","bank_statement","rental_agreement","passport_registration","temporary_registration"]}]}'
  '{"v":1,"d":[{"_":"pd","n":1},"ad","pn","em",{"_":[{"_":"pp","s":1,"t":1},"ip","dl","ic"]},{"_":["ub","bs","ra","pr","tr"]}]}'
  '{"v":1,"data":[{"type":"id_document","selfie":true},"address_document"]}'
  '{"v":1,"d":[{"_":"idd","s":1},"add"]}'
  '{"v":1,"data":[{"type":"idd","selfie":1,"translation":false},{"_":"add"}]}'
  '{"v":1,"data":[{"one_of":["passport","identity_card"],"selfie":true,"translation":true}]}'
  '{"v":1,"data":["email"]}'
  '{"v":2,"data":["email"]}'
)
i=0
for scope in "${scopes[@]}"; do
  i=$((i + 1))
  printf '%s' "$scope" | seed scope "$i"
done

# Deep links for the test key, in both forms, with and without a callback
# URL, and the legacy payload alone.
public_key="$(jq -Rsr @uri "$data/keys/rsa2048_public.pem")"
i=0
for scope in "${scopes[@]:0:6}"; do
  query="bot_id=123456&scope=$(jq -nr --arg s "$scope" '$s|@uri')&public_key=$public_key"
  i=$((i + 1))
  printf '%s' "tg://resolve?domain=telegrampassport&$query&nonce=nonce-$i&payload=nonce-$i" | seed deep_link "resolve-$i"
  printf '%s' "tg://passport?$query&nonce=nonce-$i" | seed deep_link "passport-$i"
done
printf '%s' "tg://passport?bot_id=1&scope=%7B%22v%22%3A1%2C%22d%22%3A%5B%22em%22%5D%7D&public_key=$public_key&payload=p&callback_url=https%3A%2F%2Fexample.org%2Fcb%3Fa%3D1" |
  seed deep_link legacy-callback

# Edits to the sealed passport: none (it decrypts), then one per field.
: | seed passport_decrypt untouched
printf '\000\000\000\101' | seed passport_decrypt credentials-data
printf '\001\000\020\000' | seed passport_decrypt credentials-secret
printf '\002\000\000\377' | seed passport_decrypt credentials-hash
printf '\003\000\040\000' | seed passport_decrypt element-data
printf '\004\001\000\001\003\000\000\040' | seed passport_decrypt two-edits

# MTProto: the input is the fuzzer's structured encoding, so no fixture
# maps onto it; these decode to no values with the fixture's credentials,
# and to one value.
: | seed mtproto empty
printf '\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020' | seed mtproto counting

for target in "${targets[@]}"; do
  printf '%-18s %3d seeds\n' "$target" "$(find "$corpus/$target" -name 'seed-*' | wc -l)"
done
