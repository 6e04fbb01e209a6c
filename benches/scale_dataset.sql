-- The scale benchmark's dataset, generated server-side: 10,000 users, 1,000 guilds,
-- 1,000,000 chat sessions (one every 30 s, newest now; 1% orphaned; 20% in a guild)
-- and 10,000,000 chat messages (10 per session). One message in each tenth session
-- carries a spam URL (100,000 sessions), and twelve messages carry a rare phrase.
-- Run on an empty database migrated with the reference schema.
set maintenance_work_mem = '512MB';

create temp table scale_users as
select n, gen_random_uuid() as id from generate_series(1, 10000) n;

insert into users (id, username, email, role, created_at, updated_at)
select id, 'scaleuser' || n, 'scaleuser' || n || '@example.test', 'user',
       now() - interval '400 days' + n * interval '1 minute', now()
from scale_users;

create temp table scale_guilds as
select n, gen_random_uuid() as id from generate_series(1, 1000) n;

insert into guilds (id, name, owner_id, created_at, updated_at)
select g.id, 'guild ' || g.n, u.id, now() - interval '300 days' + g.n * interval '1 hour', now()
from scale_guilds g join scale_users u on u.n = g.n;

create temp table scale_sessions as
select s as n, gen_random_uuid() as id,
       case when s % 100 = 0 then null else u.id end as user_id,
       case when s % 5 = 0 then g.id end as guild_id,
       now() - s * interval '30 seconds' as created_at
from generate_series(1, 1000000) s
join scale_users u on u.n = 1 + s % 10000
join scale_guilds g on g.n = 1 + s % 1000;

insert into chat_sessions (id, user_id, guild_id, model, title, created_at, updated_at)
select id, user_id, guild_id, 'model-' || (n % 5),
       (array['Help with taxes', 'Dinner recipes', 'Debugging my code', 'Trip to Lisbon',
              'Homework: fractions', 'A poem for mum', 'Training plan', 'Guitar chords'])
         [1 + n % 8] || ' #' || n,
       created_at, created_at
from scale_sessions;

insert into chat_messages (id, session_id, author_id, role, content, created_at)
select gen_random_uuid(), s.id,
       case when k % 2 = 0 then s.user_id end,
       case when k % 2 = 0 then 'user' else 'assistant' end,
       case
         when k = 0 and s.n % 10 = 0 then 'free prizes at https://spam.example/win?ref=' || s.n
         when k = 3 and s.n % 83333 = 0 then 'the code word is zebra-quokka-7781, ok?'
         else (array['can you help me with this', 'sure, here is what I found',
                     'thanks, that works', 'what about the second part',
                     'here is a longer answer with steps', 'I still get an error',
                     'try restarting it first', 'ok that fixed it'])[1 + (s.n + k) % 8]
              || ' (' || s.n || '.' || k || ')'
       end,
       s.created_at + k * interval '1 second'
from scale_sessions s cross join generate_series(0, 9) k;

analyze;
