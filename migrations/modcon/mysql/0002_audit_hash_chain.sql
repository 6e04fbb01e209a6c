-- The audit chain's append lock (SPEC §11): MySQL has no transaction-scoped advisory
-- lock, so appends take a row lock on this row (`select … for update`) and queue there;
-- the lock ends with the transaction, whatever way it ends.

create table modcon_locks (
    name  varchar(64) not null primary key
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin;

insert into modcon_locks (name) values ('audit_chain');
