-- modcon's own tables on MySQL/MariaDB, apart from the platform's (SPEC §2): operator
-- credentials and the audit record, already with its hash chain (SPEC §11). No foreign
-- keys to the platform, whose ids may be integers, uuids or text.

create table modcon_operators (
    -- The platform user's id in its text form.
    user_id        varchar(255) not null primary key,
    password_hash  text,
    failed_logins  integer not null default 0,
    locked_until   datetime(6),
    created_at     datetime(6) not null default current_timestamp(6),
    updated_at     datetime(6) not null default current_timestamp(6)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

create table modcon_audit_log (
    -- Given by modcon under the chain's append lock: the ids are the chain's order.
    id            bigint not null auto_increment primary key,
    at            datetime(6) not null default current_timestamp(6),
    batch_id      char(36) not null,
    actor_id      varchar(255),
    actor_name    text not null,
    action        varchar(64) not null,
    target_type   varchar(64) not null,
    target_id     varchar(255),
    target_label  text not null default (''),
    counts        longtext not null default ('{}'),
    reason        text,
    details       longtext not null default ('{}'),
    prev_hash     char(64),
    hash          char(64),
    key modcon_audit_log_batch (batch_id),
    key modcon_audit_log_target (target_id),
    key modcon_audit_log_actor_at (actor_id, at)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

-- Append-only: no update but the one that fills in a missing chain, no delete (and so
-- no `replace`, which deletes first; `insert … on duplicate key update` updates).
create trigger modcon_audit_log_no_update before update on modcon_audit_log
for each row
begin
    if not (old.hash is null and new.hash is not null
            and new.id <=> old.id and new.at <=> old.at and new.batch_id <=> old.batch_id
            and new.actor_id <=> old.actor_id and new.actor_name <=> old.actor_name
            and new.action <=> old.action and new.target_type <=> old.target_type
            and new.target_id <=> old.target_id and new.target_label <=> old.target_label
            and new.counts <=> old.counts and new.reason <=> old.reason
            and new.details <=> old.details) then
        signal sqlstate '45000' set message_text = 'modcon_audit_log is append-only: UPDATE refused';
    end if;
end;

create trigger modcon_audit_log_no_delete before delete on modcon_audit_log
for each row
    signal sqlstate '45000' set message_text = 'modcon_audit_log is append-only: DELETE refused';
