-- auth-users: two backoffice staff users, and API keys for the default client (Acme Shop).
--
-- Test fixtures, not secrets:
--   backoffice  alice@support.example  "correct horse"    (Alice Anders)
--               bob@support.example    "battery staple"   (Bob Baker)
--   chat API    sb-test-key-acme-shop          Acme Shop's key (the playground uses it)
--               sb-test-key-acme-shop-revoked  revoked: the API answers 401
-- The password hashes were made once with werkzeug.security.generate_password_hash (scrypt); the
-- keys are stored as their hex SHA-256 (python3 -c "import hashlib;
-- print(hashlib.sha256(b'sb-test-key-acme-shop').hexdigest())").
-- Safe to load twice: an email or key hash that exists is left as it is.

INSERT INTO staff_users (email, password_hash, display_name) VALUES
    ('alice@support.example',
     'scrypt:32768:8:1$NsEADd8sKv95H4ue$02f2bddf59183dacbc64dc586c8b5542b1147a2dcae775571e11993bfb77f7530304ba65bc275b761b9fb58df4dc8986f6ed06f543b71304cbf0d33702a454e8',
     'Alice Anders'),
    ('bob@support.example',
     'scrypt:32768:8:1$ktoG9QwvtsiTEf6q$25ba15e3458ef4239119bca6eb091f32de2e0f111adc9b8816b75654774e466a657073f7007980d67b33499e4659dc6131365e1aecaa4c4d73971ec50c087572',
     'Bob Baker')
ON CONFLICT (email) DO NOTHING;

INSERT INTO api_keys (client_id, key_hash, label, revoked_at)
SELECT c.id, k.key_hash, k.label, k.revoked_at::timestamptz
FROM clients c
JOIN (VALUES
    ('acme-shop.example', 'af4f34c8cc704973275506930252e536631a00e66c7f5d8ba055aaae61f3a1e3', 'website widget', NULL),
    ('acme-shop.example', 'cb233cdc7467b7973290decf9baca6b290efb1ac578f5299ebffd649355f4057', 'old widget (revoked)', '2025-01-15 10:00:00+00')
) AS k (domain, key_hash, label, revoked_at) ON k.domain = c.domain
ON CONFLICT (key_hash) DO NOTHING;
