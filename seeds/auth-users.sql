-- auth-users: two users of the default tenant (Acme, id 1), each with an API key, for pages that
-- need a signed-in user or an API key (e.g. a playground configured with the local API URL and key).
--
-- Test fixtures, not secrets: the plaintext keys are
--   alice@acme.test  notes-test-key-alice
--   bob@acme.test    notes-test-key-bob
-- and the table holds only their hex SHA-256 (python3 -c "import hashlib;
-- print(hashlib.sha256(b'notes-test-key-alice').hexdigest())").
-- Safe to load twice: a user whose email exists is left as it is.

INSERT INTO users (tenant_id, email, display_name, api_key_hash) VALUES
    (1, 'alice@acme.test', 'Alice Example', 'a87f87735d3aed97702fa6f7d279cada707066310109c5eab694e528cc4d0821'),
    (1, 'bob@acme.test',   'Bob Example',   '4076c181e61f802c4be9643b379c1af685cfd289008c258928adb7d489c50d02')
ON CONFLICT (email) DO NOTHING;
