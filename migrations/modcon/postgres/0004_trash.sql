-- Trash (SPEC §10): every row a delete removes, copied in the delete's own transaction,
-- so that it can be put back within the retention window. One batch per delete, under
-- the delete's audit batch id. `kind` is `row` (a removed row, whole, as JSON),
-- `unlink` (a kept row a SET NULL reference unlinked: its key and the old values) or
-- `soft_delete` (a user marked deleted: its key and the marking columns' old values).

create table modcon.modcon_trash_batches (
    batch_id          uuid primary key,
    at                timestamptz not null default now(),
    actor_id          text,
    actor_name        text not null,
    action            text not null,
    target_type       text not null,
    restored_at       timestamptz,
    restored_by       text,
    restore_batch_id  uuid
);
create index modcon_trash_batches_at on modcon.modcon_trash_batches (at);

create table modcon.modcon_trash (
    id          bigint generated always as identity primary key,
    batch_id    uuid not null references modcon.modcon_trash_batches (batch_id) on delete cascade,
    kind        text not null,
    table_name  text not null,
    -- Parents before children: a table's depth is one more than its parents' in the batch.
    depth       integer not null default 0,
    -- The target (text form) a root row or a soft-delete marking belongs to.
    target_id   text,
    row_data    jsonb not null,
    -- For `unlink`: the foreign key (`parent`, `columns`, `parent_columns`).
    details     jsonb not null default '{}'
);
create index modcon_trash_batch on modcon.modcon_trash (batch_id, depth, id);
