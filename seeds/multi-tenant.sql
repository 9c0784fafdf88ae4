-- multi-tenant: a second tenant (Globex, id 2) with its own user and three notes, to show that the
-- app keeps tenants apart: with NOTES_TENANT=1 none of these appear, with NOTES_TENANT=2 only these.
--
-- Test fixture, not a secret: carol@globex.test's API key is notes-test-key-globex-carol (the table
-- holds its hex SHA-256).
-- Safe to load twice: the tenant, the user and each note are added only if absent.

INSERT INTO tenants (id, name) VALUES (2, 'Globex') ON CONFLICT DO NOTHING;
SELECT setval(pg_get_serial_sequence('tenants', 'id'), (SELECT max(id) FROM tenants));

INSERT INTO users (tenant_id, email, display_name, api_key_hash) VALUES
    (2, 'carol@globex.test', 'Carol Globex', '24dd6c6746e878e7548eb1f467ae0698f8d3ffe2a6dd6a89dd19a91437598009')
ON CONFLICT (email) DO NOTHING;

INSERT INTO notes (tenant_id, title, body, created_at)
SELECT 2, v.title, v.body, v.created_at::timestamptz
FROM (VALUES
    ('Globex roadmap', E'Q1: hammocks\nQ2: more hammocks', '2024-02-01 09:00:00+00'),
    ('Globex only', 'Tenant 1 must never see this note.', '2024-02-02 09:00:00+00'),
    ('Globex standup', 'Nothing blocked; hammock QA continues.', '2024-02-03 09:00:00+00')
) AS v (title, body, created_at)
WHERE NOT EXISTS (SELECT 1 FROM notes n WHERE n.tenant_id = 2 AND n.title = v.title)
ORDER BY v.created_at;
