-- content-populated: eight notes in the default tenant (Acme, id 1), so lists, pages and per-note
-- features (a word count, say) have something to show. The bodies are deliberately varied: empty,
-- one word, multi-line, extra whitespace, punctuation, non-ASCII, HTML that must be escaped, long.
-- Word counts (split on whitespace): 0, 1, 9, 10, 7, 5, 4, 56.
-- Safe to load twice: a note whose title the tenant already has is not added again.

INSERT INTO notes (tenant_id, title, body, created_at)
SELECT 1, v.title, v.body, v.created_at::timestamptz
FROM (VALUES
    ('Empty note', '', '2024-01-01 09:00:00+00'),
    ('One word', 'Hello', '2024-01-02 09:00:00+00'),
    ('Groceries', E'milk\neggs\nbread\nbutter\ncoffee beans\nolive oil\napples', '2024-01-03 09:00:00+00'),
    ('Spacing', E'  leading spaces,\ta tab,   and   runs of   spaces  between words  ', '2024-01-04 09:00:00+00'),
    ('Punctuation', 'Well... it works -- mostly; see #42!', '2024-01-05 09:00:00+00'),
    ('Café notes', 'naïve café déjà vu über', '2024-01-06 09:00:00+00'),
    ('Markup <b>stays</b> text', '<script>alert("x")</script> & more <i>tags</i>', '2024-01-07 09:00:00+00'),
    ('Meeting minutes', E'Attendees: Alice, Bob.\n\nDecisions:\n- ship the notes API on Friday\n- add a word count to each note\n\nActions:\n- Alice writes the migration and the seed files\n- Bob reviews the pull request and runs the end to end checks\n\nNext meeting: Tuesday at ten, same room, bring the numbers from the benchmark run.', '2024-01-08 09:00:00+00')
) AS v (title, body, created_at)
WHERE NOT EXISTS (SELECT 1 FROM notes n WHERE n.tenant_id = 1 AND n.title = v.title)
ORDER BY v.created_at;
