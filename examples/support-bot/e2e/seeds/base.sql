-- base: the default client, Acme Shop (acme-shop.example), whose bot is configured in
-- clients/acme-shop.example/. The schema comes from the app's Alembic migrations (e2e.setup runs
-- `alembic upgrade head` first); this file and the others only add rows.
-- Without auth-users the client has no API key yet, so the chat API refuses every request (401).
-- Safe to load twice: a client whose domain exists is left as it is.

INSERT INTO clients (domain, name) VALUES
    ('acme-shop.example', 'Acme Shop')
ON CONFLICT (domain) DO NOTHING;
