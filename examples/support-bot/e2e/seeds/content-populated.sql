-- content-populated: eight conversations on Acme Shop's bot over the last three days, with feedback,
-- so the backoffice's lists, counts and transcripts have something to show. The answers are what the
-- bot (clients/acme-shop.example) said to these questions. The messages are deliberately varied: a
-- greeting, two questions in one conversation, HTML that must be escaped, French with an emoji,
-- a long message. Feedback: 3 up, 4 down; three of the downs are refund-timing questions that the
-- bot answered with delivery times (the shipping skill).
-- Timestamps are relative to now(), so "recent" stays recent whenever the seeds are loaded.
-- Safe to load twice: conversations, messages and feedback that exist are left as they are.

INSERT INTO conversations (client_id, session_id, started_at, last_message_at)
SELECT c.id, v.session_id, now() - v.age, now() - v.age + v.messages * interval '20 seconds'
FROM clients c
JOIN (VALUES
    ('acme-demo-01', interval '3 days', 2),
    ('acme-demo-02', interval '2 days 4 hours', 2),
    ('acme-demo-03', interval '2 days', 4),
    ('acme-demo-04', interval '1 day 6 hours', 2),
    ('acme-demo-05', interval '1 day', 4),
    ('acme-demo-06', interval '5 hours', 2),
    ('acme-demo-07', interval '2 hours', 2),
    ('acme-demo-08', interval '1 hour', 2)
) AS v (session_id, age, messages) ON c.domain = 'acme-shop.example'
ON CONFLICT (client_id, session_id) DO NOTHING;

-- Each message's public id (the API's answer id) is derived from its session and position, so a
-- second load finds it and adds nothing. Ids follow the VALUES order, which is the chat's order.
INSERT INTO messages (public_id, conversation_id, role, content, skill, sources, latency_ms, created_at)
SELECT md5(v.session_id || '/' || v.n)::uuid::text, conv.id, v.role, v.content, v.skill, v.sources::json,
       v.latency_ms, conv.started_at + v.n * interval '20 seconds'
FROM (VALUES
    ('acme-demo-01', 1, 'user', 'How much is shipping?', NULL, NULL, NULL),
    ('acme-demo-01', 2, 'bot', 'Happy to help! Here is how delivery works at Acme Shop:

Standard delivery takes 3-5 business days within the continental US and costs $4.95. Express delivery takes 1-2 business days and costs $12.95. Orders placed before 2 pm Eastern leave our warehouse the same business day.

Standard shipping is free on orders over $50 after discounts. Express delivery is never free.', 'shipping', '[{"doc": "shipping.md", "title": "Shipping and delivery", "section": "How much delivery costs and how long it takes"}, {"doc": "shipping.md", "title": "Shipping and delivery", "section": "Free shipping"}]', 2),
    ('acme-demo-02', 1, 'user', 'How long do refunds take?', NULL, NULL, NULL),
    ('acme-demo-02', 2, 'bot', 'Happy to help! Here is how delivery works at Acme Shop:

Standard delivery takes 3-5 business days within the continental US and costs $4.95. Express delivery takes 1-2 business days and costs $12.95. Orders placed before 2 pm Eastern leave our warehouse the same business day.', 'shipping', '[{"doc": "shipping.md", "title": "Shipping and delivery", "section": "How much delivery costs and how long it takes"}]', 2),
    ('acme-demo-03', 1, 'user', 'Hi', NULL, NULL, NULL),
    ('acme-demo-03', 2, 'bot', 'Hi! I''m the Acme Shop assistant. I can help with your orders, shipping, returns and refunds, payments and your account. What can I do for you?', 'greeting', '[]', 3),
    ('acme-demo-03', 3, 'user', 'Where is my order?', NULL, NULL, NULL),
    ('acme-demo-03', 4, 'bot', 'Happy to help! Here is what I can tell you about your order:

You can see the status of every order on the Orders page of your account. An order goes through four statuses: Received, Packed, Shipped and Delivered.

You can change or cancel an order within 1 hour of placing it, from the Orders page. After that the order is already being packed, and you can return it once it arrives.

If something still looks wrong, reply with your order number and our team will check it for you.', 'order-status', '[{"doc": "orders.md", "title": "Orders", "section": "Order status"}, {"doc": "orders.md", "title": "Orders", "section": "Changing or cancelling an order"}]', 3),
    ('acme-demo-04', 1, 'user', 'When will my refund arrive?', NULL, NULL, NULL),
    ('acme-demo-04', 2, 'bot', 'Happy to help! Here is how delivery works at Acme Shop:

When your order leaves the warehouse we email you a tracking link from our courier, UPS. The link can take up to 24 hours to show the first scan.', 'shipping', '[{"doc": "shipping.md", "title": "Shipping and delivery", "section": "Tracking a parcel"}]', 4),
    ('acme-demo-05', 1, 'user', 'Can I pay in instalments?', NULL, NULL, NULL),
    ('acme-demo-05', 2, 'bot', 'Happy to help! Here is how payment works:

Orders over $100 can be split into 4 interest-free instalments with Klarna at checkout.', 'payments', '[{"doc": "payments.md", "title": "Payments", "section": "Paying in instalments"}]', 2),
    ('acme-demo-05', 3, 'user', '<b>Thanks!</b> <script>alert(1)</script>', NULL, NULL, NULL),
    ('acme-demo-05', 4, 'bot', 'I''m not sure I can answer that one. Our team can: email help@acme-shop.example or call +1 555 0100, Monday to Friday 9 am to 6 pm Eastern.', 'fallback', '[]', 1),
    ('acme-demo-06', 1, 'user', 'Je voudrais un remboursement 💸', NULL, NULL, NULL),
    ('acme-demo-06', 2, 'bot', 'I''m not sure I can answer that one. Our team can: email help@acme-shop.example or call +1 555 0100, Monday to Friday 9 am to 6 pm Eastern.', 'fallback', '[]', 3),
    ('acme-demo-07', 1, 'user', 'I sent my parcel back last week. How long until I get my money back?', NULL, NULL, NULL),
    ('acme-demo-07', 2, 'bot', 'Happy to help! Here is how delivery works at Acme Shop:

Standard delivery takes 3-5 business days within the continental US and costs $4.95. Express delivery takes 1-2 business days and costs $12.95. Orders placed before 2 pm Eastern leave our warehouse the same business day.

If tracking says delivered but you cannot find the parcel, check with your neighbours and your building''s mailroom, then contact us within 7 days so we can open a claim with UPS.', 'shipping', '[{"doc": "shipping.md", "title": "Shipping and delivery", "section": "How much delivery costs and how long it takes"}, {"doc": "shipping.md", "title": "Shipping and delivery", "section": "Missing or late parcels"}]', 1),
    ('acme-demo-08', 1, 'user', 'My blender came damaged, what can I do?', NULL, NULL, NULL),
    ('acme-demo-08', 2, 'bot', 'Happy to help! Here is our returns and refunds policy:

If an item arrives damaged, or is not what you ordered, send us a photo within 14 days of delivery and we will send a replacement or refund you in full, shipping included.

You can start a return at any time from the Orders page in your account.', 'returns-refunds', '[{"doc": "returns.md", "title": "Returns and refunds", "section": "Damaged or wrong items"}]', 4)
) AS v (session_id, n, role, content, skill, sources, latency_ms)
JOIN conversations conv ON conv.session_id = v.session_id
JOIN clients c ON c.id = conv.client_id AND c.domain = 'acme-shop.example'
ORDER BY v.session_id, v.n
ON CONFLICT (public_id) DO NOTHING;

INSERT INTO feedback (message_id, rating, comment, created_at)
SELECT m.id, v.rating, v.comment, m.created_at + interval '30 seconds'
FROM (VALUES
    ('acme-demo-01', 2, 1, NULL),
    ('acme-demo-02', 2, -1, 'I asked about my refund, not about delivery.'),
    ('acme-demo-03', 4, 1, NULL),
    ('acme-demo-04', 2, -1, NULL),
    ('acme-demo-06', 2, -1, 'en français svp'),
    ('acme-demo-07', 2, -1, 'Useless, this is about shipping times.'),
    ('acme-demo-08', 2, 1, 'Quick and clear, thanks')
) AS v (session_id, n, rating, comment)
JOIN messages m ON m.public_id = md5(v.session_id || '/' || v.n)::uuid::text
ON CONFLICT (message_id) DO NOTHING;
