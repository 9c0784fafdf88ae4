-- multi-tenant: two more clients, to show that the API and the backoffice keep clients apart.
--   northwind-travel.example  Northwind Travel, configured (clients/northwind-travel.example/), with
--                             its own API key and three conversations (feedback: 2 up, 1 down)
--   initech-insurance.example Initech Insurance, signed but not onboarded yet: no files under
--                             clients/ and no key, so the backoffice shows it as "not configured"
-- Test fixture, not a secret: Northwind's API key is sb-test-key-northwind (stored as its SHA-256).
-- Acme Shop's key is refused for Northwind (403) and Northwind's answers are not Acme's (404).
-- Safe to load twice: clients, keys, conversations, messages and feedback are added only if absent.

INSERT INTO clients (domain, name) VALUES
    ('northwind-travel.example', 'Northwind Travel'),
    ('initech-insurance.example', 'Initech Insurance')
ON CONFLICT (domain) DO NOTHING;

INSERT INTO api_keys (client_id, key_hash, label)
SELECT c.id, '914dbbb869a06cab5370210cc1978a02f269aec30560446438a3b54ed280bc38', 'website widget'
FROM clients c WHERE c.domain = 'northwind-travel.example'
ON CONFLICT (key_hash) DO NOTHING;

INSERT INTO conversations (client_id, session_id, started_at, last_message_at)
SELECT c.id, v.session_id, now() - v.age, now() - v.age + v.messages * interval '20 seconds'
FROM clients c
JOIN (VALUES
    ('nw-demo-01', interval '4 days', 2),
    ('nw-demo-02', interval '1 day 2 hours', 4),
    ('nw-demo-03', interval '3 hours', 2)
) AS v (session_id, age, messages) ON c.domain = 'northwind-travel.example'
ON CONFLICT (client_id, session_id) DO NOTHING;

-- Each message's public id (the API's answer id) is derived from its session and position, so a
-- second load finds it and adds nothing. Ids follow the VALUES order, which is the chat's order.
INSERT INTO messages (public_id, conversation_id, role, content, skill, sources, latency_ms, created_at)
SELECT md5(v.session_id || '/' || v.n)::uuid::text, conv.id, v.role, v.content, v.skill, v.sources::json,
       v.latency_ms, conv.started_at + v.n * interval '20 seconds'
FROM (VALUES
    ('nw-demo-01', 1, 'user', 'How big can my cabin bag be?', NULL, NULL, NULL),
    ('nw-demo-01', 2, 'bot', 'Thank you for your question. Our baggage rules are as follows.

Every passenger may take one cabin bag of up to 10 kg and 55 x 40 x 20 cm, plus one small personal item such as a handbag or a laptop bag.

Bags over 23 kg cost £15 per extra kilogram at the airport, up to 32 kg. An extra bag costs £35 per flight online or £60 at the airport.', 'baggage', '[{"doc": "baggage.md", "title": "Baggage", "section": "Cabin baggage"}, {"doc": "baggage.md", "title": "Baggage", "section": "Overweight and extra bags"}]', 1),
    ('nw-demo-02', 1, 'user', 'Good morning', NULL, NULL, NULL),
    ('nw-demo-02', 2, 'bot', 'Good day, and welcome to Northwind Travel. I can assist with changes to your booking, cancellations and refunds, baggage, check-in and travel documents. How may I help you?', 'greeting', '[]', 1),
    ('nw-demo-02', 3, 'user', 'I need to cancel my holiday, what will it cost?', NULL, NULL, NULL),
    ('nw-demo-02', 4, 'bot', 'Thank you for your question. Please find our cancellation terms below.

If we cancel your holiday, you may choose a full refund within 14 days or an alternative holiday of equal or higher standard at no extra cost.

You may cancel a package holiday at any time. The charge depends on how long before departure you cancel: more than 60 days before, you lose the deposit of £150 per person; 60 to 29 days before, 50% of the total price; 28 days or less before, 100% of the total price.

Any cancellation is confirmed to you in writing by email.', 'cancellations-refunds', '[{"doc": "cancellations.md", "title": "Cancellations and refunds", "section": "When we cancel your trip"}, {"doc": "cancellations.md", "title": "Cancellations and refunds", "section": "Cancellation charges"}]', 4),
    ('nw-demo-03', 1, 'user', 'Do you sell gift certificates?', NULL, NULL, NULL),
    ('nw-demo-03', 2, 'bot', 'I am afraid I cannot answer that question. Our travel advisers can: please call +44 20 7946 0000 (every day, 8:00 to 20:00 UK time) or write to care@northwind-travel.example.', 'fallback', '[]', 3)
) AS v (session_id, n, role, content, skill, sources, latency_ms)
JOIN conversations conv ON conv.session_id = v.session_id
JOIN clients c ON c.id = conv.client_id AND c.domain = 'northwind-travel.example'
ORDER BY v.session_id, v.n
ON CONFLICT (public_id) DO NOTHING;

INSERT INTO feedback (message_id, rating, comment, created_at)
SELECT m.id, v.rating, v.comment, m.created_at + interval '30 seconds'
FROM (VALUES
    ('nw-demo-01', 2, 1, NULL),
    ('nw-demo-02', 4, 1, NULL),
    ('nw-demo-03', 2, -1, 'No answer to my question')
) AS v (session_id, n, rating, comment)
JOIN messages m ON m.public_id = md5(v.session_id || '/' || v.n)::uuid::text
ON CONFLICT (message_id) DO NOTHING;
