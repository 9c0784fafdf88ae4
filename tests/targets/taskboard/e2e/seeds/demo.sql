-- Demo data for browser checks; load after `alembic upgrade head` (psql -v ON_ERROR_STOP=1 -f ...).
-- Passwords: alice@example.com "correct horse", bob@example.com "battery staple". The hashes were made
-- once with werkzeug.security.generate_password_hash (scrypt). No explicit ids: the sequences stay right.

INSERT INTO users (email, password_hash, display_name) VALUES
  ('alice@example.com',
   'scrypt:32768:8:1$B9FWU3KYzVFXAVKz$7611f1d6f1c4f625b2566f7dfc938265c7bec07aa0d3b1c46ec3f57cdb42ab117acc4a39b0540662abdbe05d894e4c99afc73715e1225074b12cc72e60ca26d2',
   'Alice Anders'),
  ('bob@example.com',
   'scrypt:32768:8:1$oIXvMzdNi414rQtE$9be548ccb49a1efccf510a18db898467338d5a52d9728ea92ae0505290d5460046bbd4fd03ffed8b7d8c64a8cbebcce4a5d425d2caca07cd87564f22fd76b8ff',
   'Bob Baker');

INSERT INTO tasks (owner_id, title, done, created_at)
SELECT u.id, t.title, t.done, now() - t.age
FROM users u
JOIN (VALUES
  ('alice@example.com', 'Water the plants', false, interval '3 days'),
  ('alice@example.com', 'Book dentist appointment', false, interval '2 days'),
  ('alice@example.com', 'File taxes', true, interval '5 days'),
  ('bob@example.com', 'Renew passport', false, interval '4 days'),
  ('bob@example.com', 'Fix the bike light', true, interval '1 day')
) AS t(email, title, done, age) ON t.email = u.email;
