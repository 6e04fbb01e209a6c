-- Trash (SPEC §10): every row a delete removes, copied in the delete's own transaction,
-- one batch per delete under the delete's audit batch id. `kind` is `row`, `unlink` or
-- `soft_delete`, as on the other backends.

create table modcon_trash_batches (
    batch_id          char(36) not null primary key,
    at                datetime(6) not null default current_timestamp(6),
    actor_id          varchar(255),
    actor_name        text not null,
    action            varchar(64) not null,
    target_type       varchar(64) not null,
    restored_at       datetime(6),
    restored_by       text,
    restore_batch_id  char(36),
    key modcon_trash_batches_at (at)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table modcon_trash (
    id          bigint not null auto_increment primary key,
    batch_id    char(36) not null,
    kind        varchar(16) not null,
    table_name  varchar(255) not null,
    depth       integer not null default 0,
    target_id   varchar(255),
    row_data    longtext not null,
    details     longtext not null default ('{}'),
    key modcon_trash_batch (batch_id, depth, id),
    constraint modcon_trash_batch_fk foreign key (batch_id)
        references modcon_trash_batches (batch_id) on delete cascade
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;
