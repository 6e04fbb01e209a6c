-- Operator credentials and the audit record move into modcon's own tables (created by
-- modcon's migrations, which run first). Nothing is lost: hashes, failure counts, locks
-- and every audit row with its id are copied before the old places are dropped.

insert into modcon_operators (user_id, password_hash, failed_logins, locked_until)
select id, password_hash, failed_logins, locked_until
from users
where password_hash is not null or failed_logins > 0 or locked_until is not null;

insert into modcon_audit_log
    (id, at, batch_id, actor_id, actor_name, action, target_type, target_id, target_label,
     counts, reason, details)
select id, at, batch_id, actor_id, actor_name, action, target_type, target_id,
       target_label, counts, reason, details
from audit_log
order by id;

drop trigger audit_log_no_update;
drop trigger audit_log_no_delete;
drop table audit_log;

alter table users drop column password_hash;
alter table users drop column failed_logins;
alter table users drop column locked_until;
