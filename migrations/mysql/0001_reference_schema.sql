-- The platform's reference schema (SPEC §2) on MySQL/MariaDB. Uuids are kept as
-- char(36) text, booleans as tinyint(1), times as UTC datetime(6). Text compares as
-- written (utf8mb4_bin); user names are unique whatever their case, through a lower-cased
-- copy (a case-insensitive collation would also equate names that differ only by
-- characters it ignores, which look-alike names are made of).

create table users (
    id             char(36) not null primary key,
    username       varchar(255) not null,
    -- Bytes: no collation pads or ignores characters in the comparison.
    username_key   varbinary(1020) as (lower(username)) stored,
    email          varchar(320) not null default '',
    role           varchar(16) not null check (role in ('admin', 'moderator', 'user')),
    is_protected   tinyint(1) not null default 0,
    is_service     tinyint(1) not null default 0,
    is_active      tinyint(1) not null default 1,
    created_at     datetime(6) not null default current_timestamp(6),
    updated_at     datetime(6) not null default current_timestamp(6),
    unique key users_username_ci (username_key),
    key users_created (created_at, id),
    key users_role_active (role, is_active)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table guilds (
    id          char(36) not null primary key,
    name        varchar(255) not null,
    owner_id    char(36),
    created_at  datetime(6) not null default current_timestamp(6),
    updated_at  datetime(6) not null default current_timestamp(6),
    key guilds_owner (owner_id),
    key guilds_created (created_at, id),
    constraint guilds_owner_fk foreign key (owner_id) references users (id) on delete set null
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table guild_members (
    guild_id   char(36) not null,
    user_id    char(36) not null,
    role       varchar(16) not null default 'member' check (role in ('owner', 'admin', 'member')),
    joined_at  datetime(6) not null default current_timestamp(6),
    primary key (guild_id, user_id),
    key guild_members_user (user_id),
    constraint guild_members_guild_fk foreign key (guild_id) references guilds (id) on delete cascade,
    constraint guild_members_user_fk foreign key (user_id) references users (id) on delete cascade
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table guild_settings (
    guild_id  char(36) not null,
    `key`     varchar(255) not null,
    `value`   text not null default (''),
    primary key (guild_id, `key`),
    constraint guild_settings_guild_fk foreign key (guild_id) references guilds (id) on delete cascade
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table chat_sessions (
    id          char(36) not null primary key,
    user_id     char(36),
    guild_id    char(36),
    model       varchar(255) not null default '',
    title       text not null default (''),
    created_at  datetime(6) not null default current_timestamp(6),
    updated_at  datetime(6) not null default current_timestamp(6),
    key chat_sessions_created (created_at, id),
    key chat_sessions_user (user_id, created_at, id),
    key chat_sessions_guild (guild_id),
    constraint chat_sessions_user_fk foreign key (user_id) references users (id) on delete cascade,
    constraint chat_sessions_guild_fk foreign key (guild_id) references guilds (id) on delete cascade
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table chat_messages (
    id          char(36) not null primary key,
    session_id  char(36) not null,
    author_id   char(36),
    role        varchar(16) not null check (role in ('user', 'assistant', 'system', 'tool')),
    content     mediumtext not null,
    created_at  datetime(6) not null default current_timestamp(6),
    key chat_messages_session_created (session_id, created_at),
    key chat_messages_author (author_id),
    constraint chat_messages_session_fk foreign key (session_id) references chat_sessions (id) on delete cascade,
    constraint chat_messages_author_fk foreign key (author_id) references users (id) on delete set null
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table messages (
    id            char(36) not null primary key,
    sender_id     char(36),
    recipient_id  char(36),
    content       mediumtext not null,
    created_at    datetime(6) not null default current_timestamp(6),
    read_at       datetime(6),
    key messages_created (created_at, id),
    key messages_sender (sender_id),
    key messages_recipient (recipient_id),
    constraint messages_sender_fk foreign key (sender_id) references users (id) on delete set null,
    constraint messages_recipient_fk foreign key (recipient_id) references users (id) on delete set null
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table books (
    id      char(36) not null primary key,
    title   varchar(1000) not null,
    author  varchar(1000) not null default ''
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table comments (
    id          char(36) not null primary key,
    book_id     char(36) not null,
    user_id     char(36),
    content     mediumtext not null,
    version     integer not null default 1,
    created_at  datetime(6) not null default current_timestamp(6),
    updated_at  datetime(6) not null default current_timestamp(6),
    key comments_book (book_id),
    key comments_user (user_id),
    key comments_updated (updated_at, id),
    constraint comments_book_fk foreign key (book_id) references books (id) on delete cascade,
    constraint comments_user_fk foreign key (user_id) references users (id) on delete set null
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table reviews (
    id          char(36) not null primary key,
    book_id     char(36) not null,
    user_id     char(36),
    rating      integer not null check (rating between 1 and 5),
    content     mediumtext not null,
    version     integer not null default 1,
    created_at  datetime(6) not null default current_timestamp(6),
    updated_at  datetime(6) not null default current_timestamp(6),
    key reviews_book (book_id),
    key reviews_user (user_id),
    key reviews_updated (updated_at, id),
    constraint reviews_book_fk foreign key (book_id) references books (id) on delete cascade,
    constraint reviews_user_fk foreign key (user_id) references users (id) on delete set null
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table app_sessions (
    id          char(36) not null primary key,
    user_id     char(36) not null,
    guild_id    char(36),
    created_at  datetime(6) not null default current_timestamp(6),
    expires_at  datetime(6) not null,
    key app_sessions_user (user_id),
    key app_sessions_guild (guild_id),
    constraint app_sessions_user_fk foreign key (user_id) references users (id) on delete cascade,
    constraint app_sessions_guild_fk foreign key (guild_id) references guilds (id) on delete cascade
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;
