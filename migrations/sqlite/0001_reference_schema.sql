-- The platform's reference schema (SPEC §2) and modcon's append-only audit record.
-- Ids are lowercase hyphenated uuid text; times are UTC text '%Y-%m-%dT%H:%M:%fZ',
-- so text order is time order.

create table users (
    id             text primary key,
    username       text not null,
    email          text not null default '',
    role           text not null check (role in ('admin', 'moderator', 'user')),
    is_protected   integer not null default 0,
    is_service     integer not null default 0,
    is_active      integer not null default 1,
    password_hash  text,
    failed_logins  integer not null default 0,
    locked_until   text,
    created_at     text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create unique index users_username_ci on users (lower(username));
create index users_created on users (created_at, id);
create index users_active_admins on users (id) where role = 'admin' and is_active;

create table guilds (
    id          text primary key,
    name        text not null,
    owner_id    text references users (id) on delete set null,
    created_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create index guilds_owner on guilds (owner_id);
create index guilds_created on guilds (created_at, id);

create table guild_members (
    guild_id   text not null references guilds (id) on delete cascade,
    user_id    text not null references users (id) on delete cascade,
    role       text not null default 'member' check (role in ('owner', 'admin', 'member')),
    joined_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    primary key (guild_id, user_id)
);
create index guild_members_user on guild_members (user_id);

create table guild_settings (
    guild_id  text not null references guilds (id) on delete cascade,
    key       text not null,
    value     text not null default '',
    primary key (guild_id, key)
);

create table chat_sessions (
    id          text primary key,
    user_id     text references users (id) on delete cascade,
    guild_id    text references guilds (id) on delete cascade,
    model       text not null default '',
    title       text not null default '',
    created_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create index chat_sessions_created on chat_sessions (created_at, id);
create index chat_sessions_user on chat_sessions (user_id);
create index chat_sessions_guild on chat_sessions (guild_id);
create index chat_sessions_orphans on chat_sessions (created_at, id) where user_id is null;

create table chat_messages (
    id          text primary key,
    session_id  text not null references chat_sessions (id) on delete cascade,
    author_id   text references users (id) on delete set null,
    role        text not null check (role in ('user', 'assistant', 'system', 'tool')),
    content     text not null,
    created_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create index chat_messages_session_created on chat_messages (session_id, created_at);
create index chat_messages_author on chat_messages (author_id);

create table messages (
    id            text primary key,
    sender_id     text references users (id) on delete set null,
    recipient_id  text references users (id) on delete set null,
    content       text not null,
    created_at    text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    read_at       text
);
create index messages_created on messages (created_at, id);
create index messages_sender on messages (sender_id);
create index messages_recipient on messages (recipient_id);

create table books (
    id      text primary key,
    title   text not null,
    author  text not null default ''
);

create table comments (
    id          text primary key,
    book_id     text not null references books (id) on delete cascade,
    user_id     text references users (id) on delete set null,
    content     text not null,
    version     integer not null default 1,
    created_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create index comments_book on comments (book_id);
create index comments_user on comments (user_id);
create index comments_updated on comments (updated_at, id);

create table reviews (
    id          text primary key,
    book_id     text not null references books (id) on delete cascade,
    user_id     text references users (id) on delete set null,
    rating      integer not null check (rating between 1 and 5),
    content     text not null,
    version     integer not null default 1,
    created_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create index reviews_book on reviews (book_id);
create index reviews_user on reviews (user_id);
create index reviews_updated on reviews (updated_at, id);

create table app_sessions (
    id          text primary key,
    user_id     text not null references users (id) on delete cascade,
    guild_id    text references guilds (id) on delete cascade,
    created_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at  text not null
);
create index app_sessions_user on app_sessions (user_id);
create index app_sessions_guild on app_sessions (guild_id);

-- No foreign keys: the record must outlive the actors and targets it names.
create table audit_log (
    id            integer primary key autoincrement,
    at            text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    batch_id      text not null,
    actor_id      text,
    actor_name    text not null,
    action        text not null,
    target_type   text not null,
    target_id     text,
    target_label  text not null default '',
    counts        text not null default '{}',
    reason        text,
    details       text not null default '{}'
);
create index audit_log_batch on audit_log (batch_id);
create index audit_log_target on audit_log (target_id);

create trigger audit_log_no_update before update on audit_log
begin
    select raise(abort, 'audit_log is append-only: UPDATE refused');
end;

create trigger audit_log_no_delete before delete on audit_log
begin
    select raise(abort, 'audit_log is append-only: DELETE refused');
end;
