//! The scriptable commands, run as the built binary against both backends: output,
//! exit code, database state and audit rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{attempt, count, operator, session, user, user_with};
use modcon::db::insert::{Batch, NewBook, NewContent, NewGuild};
use modcon::db::{Arg, Db, Id, IdKind, Role, auth};
use serde_json::Value;
use uuid::Uuid;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `modcon --database-url URL ARGS…` with `stdin`, in a scratch data directory.
fn modcon(url: &str, args: &[&str], stdin: &str) -> Run {
    let data = std::env::temp_dir().join(format!("modcon-cmd-{}", Uuid::new_v4().simple()));
    // `setsid`: no controlling terminal, so a password prompt can never wait on a
    // developer's terminal; the binary must ask for --password-file instead.
    let mut child = Command::new("setsid")
        .arg("--wait")
        .arg(env!("CARGO_BIN_EXE_modcon"))
        .arg("--database-url")
        .arg(url)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("MODCON_USER")
        .env_remove("MODCON_PASSWORD_FILE")
        .env_remove("MODCON_CONFIG")
        .env("MODCON_DATA_DIR", &data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run modcon");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&data);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `modcon mfa enroll NAME` with no terminal: reads the secret it prints and pipes back
/// the current code, as a person would type it from an authenticator.
fn enroll_from_the_shell(url: &str, name: &str) -> (Run, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = Command::new("setsid")
        .arg("--wait")
        .arg(env!("CARGO_BIN_EXE_modcon"))
        .args(["--database-url", url, "mfa", "enroll", name])
        .env_remove("DATABASE_URL")
        .env_remove("MODCON_CONFIG")
        .env(
            "MODCON_DATA_DIR",
            std::env::temp_dir().join("modcon-cmd-mfa"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run modcon");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut shown = String::new();
    let secret = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "no secret shown: {shown}"
        );
        shown.push_str(&line);
        if let Some(secret) = line.trim().strip_prefix("secret: ") {
            break secret.to_string();
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", common::totp_code(&secret, 0)).unwrap();
    drop(stdin);
    stdout.read_to_string(&mut shown).unwrap();
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: shown,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, secret)
}

/// An operator with a password, and a file holding it.
async fn signed(db: &Db, name: &str, role: Role) -> (Id, String) {
    let actor = operator(db, name, role).await;
    auth::set_password(db, name, "s3cret-pass", "test")
        .await
        .unwrap();
    let file = std::env::temp_dir().join(format!("modcon-pw-{}", Uuid::new_v4().simple()));
    std::fs::write(&file, "s3cret-pass\n").unwrap();
    (actor.id, file.display().to_string())
}

/// A reference-schema id (uuid) bound as its column's type.
fn uid(id: &Id) -> Arg {
    Arg::Id(IdKind::Uuid, Some(id.clone()))
}

fn as_op<'a>(name: &'a str, pw: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = rest.to_vec();
    args.extend(["--user", name, "--password-file", pw]);
    args
}

both_backends_with_url! {

// `seed --demo-data` puts the demo's hand-made data into any database with no users;
// its operators sign in, and every imitation of `admin` is a user of its own (MySQL's
// collations would call `admin` and `admin ` the same name).
async fn the_demo_data_seeds_any_backend_and_its_lookalikes_stay_distinct(db, url) {
    let run = modcon(&url, &["seed", "--demo-data"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("admin / admin-demo"), "{}", run.stdout);
    let again = modcon(&url, &["seed", "--demo-data"], "");
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("nothing was added"), "{}", again.stderr);
    for name in modcon::seed::ADMIN_LOOKALIKES {
        let found = modcon::db::lists::user_by_name(&db, name).await.unwrap().unwrap();
        assert_eq!(found.username, name, "{name:?} finds itself, not another name");
    }
    let admin = modcon::db::lists::user_by_name(&db, "ADMIN").await.unwrap().unwrap();
    assert_eq!(admin.username, "admin");
    let pw = std::env::temp_dir().join(format!("modcon-pw-{}", Uuid::new_v4().simple()));
    std::fs::write(&pw, "admin-demo\n").unwrap();
    let pw = pw.display().to_string();
    let run = modcon(&url, &as_op("admin", &pw, &["audit", "list"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(&pw, "wrong\n").unwrap();
    let run = modcon(&url, &as_op("admin ", &pw, &["audit", "list"]), "");
    assert_eq!(run.code, 3, "a look-alike name is not the admin: {}", run.stderr);
}

// The six test cases of the bulk-user-delete design note, field by field.
async fn users_delete_replays_the_documented_cases(db, url) {
    let (admin, pw) = signed(&db, "root", Role::Admin).await;
    let (_, mod_pw) = signed(&db, "mod", Role::Moderator).await;
    let (u10, u11, u12) = (user(&db, "testuser1").await, user(&db, "testuser2").await, user(&db, "olduser1").await);
    let (s10, s11, s12) = (u10.to_string(), u11.to_string(), u12.to_string());

    // 1. Successful bulk delete.
    let run = modcon(&url, &as_op("root", &pw, &["users", "delete", &s10, &s11, &s12, "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["success"], true);
    assert_eq!(j["deleted_count"], 3);
    assert_eq!(j["failed_count"], 0);
    assert_eq!(j["deleted_users"].as_array().unwrap().len(), 3);
    assert_eq!(j["deleted_users"][0]["user_id"], s10);
    assert_eq!(j["deleted_users"][0]["username"], "testuser1");
    assert_eq!(j["deleted_users"][0]["status"], "deleted");
    assert_eq!(j["failed_users"], serde_json::json!([]));
    assert_eq!(j["message"], "Successfully deleted 3 user(s)");
    assert_eq!(count(&db, "select count(*) from users where id in ($1, $2, $3)",
        &[uid(&u10), uid(&u11), uid(&u12)]).await, 0);

    // 2. Self-deletion prevented; the others proceed.
    let (a, b) = (user(&db, "a").await, user(&db, "b").await);
    let run = modcon(&url, &as_op("root", &pw, &["users", "delete", &admin.to_string(), &a.to_string(), &b.to_string(), "--json"]), "");
    assert_eq!(run.code, 1, "partly done: {}", run.stderr);
    let j = run.json();
    assert_eq!(j["success"], false);
    assert_eq!(j["deleted_count"], 2);
    assert_eq!(j["failed_count"], 1);
    assert_eq!(j["failed_users"][0]["user_id"], admin.to_string());
    assert_eq!(j["failed_users"][0]["username"], "root");
    assert_eq!(j["failed_users"][0]["status"], "failed");
    assert_eq!(j["failed_users"][0]["reason"], "Cannot delete currently logged in user");
    assert_eq!(j["message"], "Deleted 2 out of 3 user(s). 1 failed.");

    // 3. Authorization: a moderator is refused, nothing changes.
    let c = user(&db, "c").await;
    let run = modcon(&url, &as_op("mod", &mod_pw, &["users", "delete", &c.to_string(), "--json"]), "");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("forbidden"), "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from users where id = $1", &[uid(&c)]).await, 1);

    // 4. Empty list.
    let run = modcon(&url, &as_op("root", &pw, &["users", "delete", "--json"]), "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no ids"), "{}", run.stderr);

    // 5. Unknown ids: both reported, not an error.
    let (x, y) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    let run = modcon(&url, &as_op("root", &pw, &["users", "delete", &x, &y, "--json"]), "");
    assert_eq!(run.code, 1);
    let j = run.json();
    assert_eq!(j["deleted_count"], 0);
    assert_eq!(j["failed_count"], 2);
    assert_eq!(j["failed_users"][0]["reason"], "User not found");
    assert_eq!(j["failed_users"][0]["username"], "unknown");
    assert_eq!(j["message"], "No users were deleted");

    // 6. Mixed success and failure.
    let run = modcon(&url, &as_op("root", &pw, &["users", "delete", &admin.to_string(), &c.to_string(), &x, "--json"]), "");
    assert_eq!(run.code, 1);
    let j = run.json();
    assert_eq!(j["deleted_count"], 1);
    assert_eq!(j["failed_count"], 2);
    assert_eq!(j["deleted_users"][0]["user_id"], c.to_string());
    assert_eq!(j["message"], "Deleted 1 out of 3 user(s). 2 failed.");

    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'user.delete'", &[]).await, 6);
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'user.delete.bulk'", &[]).await, 4);
    // Malformed ids are a usage error naming the culprit.
    let run = modcon(&url, &as_op("root", &pw, &["users", "delete", "12", "--json"]), "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("'12'"), "{}", run.stderr);
}

async fn users_delete_reports_protected_service_and_guild_owners_and_applies_the_content_policy(db, url) {
    let (_, pw) = signed(&db, "root", Role::Admin).await;
    let protected = user_with(&db, "keeper", |u| u.is_protected = true).await;
    let service = user_with(&db, "bot", |u| u.is_service = true).await;
    let owner = user(&db, "owner").await;
    let writer = user(&db, "writer").await;
    let book = Uuid::new_v4();
    Batch {
        guilds: vec![NewGuild { id: Uuid::new_v4().into(), name: "G".into(), owner_id: Some(owner.clone()), created_at: chrono::Utc::now() }],
        books: vec![NewBook { id: book.into(), title: "B".into(), author: "A".into() }],
        comments: vec![NewContent { id: Uuid::new_v4().into(), book_id: book.into(), user_id: Some(writer.clone()), rating: None,
            content: "c".into(), created_at: chrono::Utc::now() }],
        ..Batch::default()
    }.insert(&db).await.unwrap();
    let ids: Vec<String> = [protected, service, owner, writer].iter().map(|u| u.to_string()).collect();
    let mut args = vec!["users", "delete", "--content", "delete", "--json"];
    args.extend(ids.iter().map(String::as_str));
    let run = modcon(&url, &as_op("root", &pw, &args), "");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let j = run.json();
    let reasons: Vec<&str> = j["failed_users"].as_array().unwrap().iter().map(|f| f["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, vec![
        "This user is protected and cannot be deleted",
        "This is a service account and cannot be deleted",
        "owns 1 guild (transfer or delete them first)",
    ]);
    assert_eq!(j["deleted_users"][0]["username"], "writer");
    assert_eq!(j["counts"]["comments"], 1);
    assert_eq!(count(&db, "select count(*) from comments", &[]).await, 0);
}

async fn chats_delete_prints_the_documented_fields_for_one_and_for_many(db, url) {
    let (admin, pw) = signed(&db, "root", Role::Admin).await;
    let one = session(&db, Some(admin.clone()), None, 15, None).await;
    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete", &one.to_string(), "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["success"], true);
    assert_eq!(j["deleted_session_id"], one.to_string());
    assert_eq!(j["deleted_messages_count"], 15);
    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete", &one.to_string(), "--json"]), "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["detail"], "Session not found");

    let a = session(&db, Some(admin.clone()), None, 20, None).await;
    let b = session(&db, Some(admin.clone()), None, 25, None).await;
    let missing = Uuid::new_v4();
    // --plan shows and changes nothing.
    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete", &a.to_string(), &b.to_string(), "--plan", "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["counts"]["chat_messages"], 45);
    assert_eq!(j["changed_nothing"], true);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 2);

    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete", &a.to_string(), &b.to_string(), &missing.to_string(),
        "--json", "--reason", "spam wave"]), "");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["success"], false);
    assert_eq!(j["deleted_count"], 2);
    assert_eq!(j["failed_ids"], serde_json::json!([missing.to_string()]));
    assert_eq!(j["total_messages_deleted"], 45);
    assert_eq!(count(&db, "select count(*) from chat_messages", &[]).await, 0);
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'chat_session.delete' and reason = 'spam wave'", &[]).await, 2);

    // Readable without --json, hostile titles neutralised.
    let c = session(&db, Some(admin), None, 1, None).await;
    db.execute_statement("update chat_sessions set title = $1 where id = $2",
        &[Arg::Text("\u{1b}]0;pwned\u{7}evil".into()), uid(&c)]).await.unwrap();
    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete", &c.to_string()]), "");
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("deleted 1 of 1 chat session;"), "{}", run.stdout);
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'), "{:?}", run.stdout);
    assert!(run.stdout.contains("evil"));
}

async fn ids_from_stdin_stream_through_in_batches_of_one_hundred(db, url) {
    let (admin, pw) = signed(&db, "root", Role::Admin).await;
    let mut ids = Vec::new();
    for _ in 0..230 {
        ids.push(session(&db, Some(admin.clone()), None, 0, None).await);
    }
    let lines: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete", "--json"]), &lines);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["deleted_count"], 230);
    assert_eq!(j["batch_ids"].as_array().unwrap().len(), 3);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 0);
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'chat_session.delete.bulk'", &[]).await, 3);
    // On the command line more than 100 ids need --batches; nothing happens without it.
    let mut more = Vec::new();
    for _ in 0..101 {
        more.push(session(&db, Some(admin.clone()), None, 0, None).await.to_string());
    }
    let mut args = vec!["chats", "delete"];
    args.extend(more.iter().map(String::as_str));
    let run = modcon(&url, &as_op("root", &pw, &args), "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("at most 100"), "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 101);
    // A malformed line anywhere stops everything before it starts.
    let bad = format!("{}\nnot-an-id\n", more[0]);
    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete"]), &bad);
    assert_eq!(run.code, 2);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 101);
}

async fn moderators_are_refused_admin_commands_and_allowed_content_commands(db, url) {
    let (_, pw) = signed(&db, "mod", Role::Moderator).await;
    let owner = user(&db, "alice").await;
    let s = session(&db, Some(owner.clone()), None, 2, None).await.to_string();
    let orphan = session(&db, None, None, 2, Some(owner.clone())).await;
    let g = Uuid::new_v4();
    Batch { guilds: vec![NewGuild { id: g.into(), name: "G".into(), owner_id: None, created_at: chrono::Utc::now() }],
        ..Batch::default() }.insert(&db).await.unwrap();
    for args in [
        vec!["chats", "delete", s.as_str()],
        vec!["guilds", "delete"],
        vec!["users", "delete", "--json"],
    ] {
        let mut args = args.clone();
        let g = g.to_string();
        let owner = owner.to_string();
        if args[0] == "guilds" { args.push(&g) }
        if args[0] == "users" { args.push(&owner) }
        let run = modcon(&url, &as_op("mod", &pw, &args), "");
        assert_eq!(run.code, 3, "{args:?}: {}", run.stderr);
    }
    let run = modcon(&url, &as_op("mod", &pw, &["chats", "orphans", "--repair"]), "");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from chat_sessions where id = $1 and user_id is null", &[uid(&orphan)]).await, 1);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 2);
    assert_eq!(count(&db, "select count(*) from guilds", &[]).await, 1);
    // Chat messages are the moderator's to delete.
    let message = db.query_i64("select count(*) from chat_messages", &[]).await.unwrap().unwrap();
    assert_eq!(message, 4);
}

async fn wrong_password_read_only_and_unreachable_database_have_their_exit_codes(db, url) {
    let (admin, pw) = signed(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin), None, 1, None).await.to_string();
    let wrong = std::env::temp_dir().join(format!("modcon-pw-{}", Uuid::new_v4().simple()));
    std::fs::write(&wrong, "nope\n").unwrap();
    let run = modcon(&url, &["chats", "delete", &s, "--user", "root", "--password-file", &wrong.display().to_string()], "");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("wrong username or password"), "{}", run.stderr);
    let run = modcon(&url, &["--read-only", "chats", "delete", &s, "--user", "root", "--password-file", &pw], "");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("read-only"), "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 1);
    // Without a password source and no terminal: a usage error, never an argument.
    let run = modcon(&url, &["chats", "delete", &s, "--user", "root"], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = modcon("postgres://postgres@127.0.0.1:1/nowhere", &as_op("root", &pw, &["chats", "delete", &s]), "");
    assert_eq!(run.code, 4, "{}", run.stderr);
}

async fn comments_and_reviews_are_edited_with_a_version_check_and_deleted(db, url) {
    let (_, pw) = signed(&db, "mod", Role::Moderator).await;
    let writer = user(&db, "writer").await;
    let book = Uuid::new_v4();
    let (comment, review) = (Uuid::new_v4(), Uuid::new_v4());
    Batch {
        books: vec![NewBook { id: book.into(), title: "B".into(), author: "A".into() }],
        comments: vec![NewContent { id: comment.into(), book_id: book.into(), user_id: Some(writer.clone()), rating: None,
            content: "old text".into(), created_at: chrono::Utc::now() }],
        reviews: vec![NewContent { id: review.into(), book_id: book.into(), user_id: Some(writer), rating: Some(1),
            content: "bad".into(), created_at: chrono::Utc::now() }],
        ..Batch::default()
    }.insert(&db).await.unwrap();
    let (c, r) = (comment.to_string(), review.to_string());
    let run = modcon(&url, &as_op("mod", &pw, &["comments", "edit", &c, "--text", "new\ntext", "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["version"], 2);
    // A stale version: nothing is overwritten, both texts come back, exit 5.
    let run = modcon(&url, &as_op("mod", &pw, &["comments", "edit", &c, "--text", "mine", "--if-version", "1", "--json"]), "");
    assert_eq!(run.code, 5, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["status"], "conflict");
    assert_eq!(j["current_text"], "new\ntext");
    assert_eq!(j["your_text"], "mine");
    assert_eq!(count(&db, "select count(*) from comments where content = $1", &[Arg::Text("new\ntext".into())]).await, 1);
    let run = modcon(&url, &as_op("mod", &pw, &["reviews", "edit", &r, "--text", "good", "--rating", "5"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from reviews where rating = 5 and content = 'good'", &[]).await, 1);
    let run = modcon(&url, &as_op("mod", &pw, &["reviews", "edit", &r, "--text", "x", "--rating", "9"]), "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    let long = "x".repeat(10_001);
    let run = modcon(&url, &as_op("mod", &pw, &["comments", "edit", &c, "--text", &long]), "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = modcon(&url, &as_op("mod", &pw, &["comments", "delete", &c, "--json", "--reason", &"r".repeat(513)]), "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = modcon(&url, &as_op("mod", &pw, &["comments", "delete", &c, "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["deleted_count"], 1);
    let run = modcon(&url, &as_op("mod", &pw, &["reviews", "delete", &r, "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from comments", &[]).await + count(&db, "select count(*) from reviews", &[]).await, 0);
    let edits = count(&db, "select count(*) from {#modcon_audit_log} where action in ('comment.edit', 'review.edit')", &[]).await;
    assert_eq!(edits, 2);
}

async fn orphans_are_listed_and_repaired_and_messages_deleted_from_the_shell(db, url) {
    let (_, pw) = signed(&db, "root", Role::Admin).await;
    let alice = user(&db, "alice").await;
    let fixable = session(&db, None, None, 3, Some(alice.clone())).await;
    let hopeless = session(&db, None, None, 0, None).await;
    let run = modcon(&url, &as_op("root", &pw, &["chats", "orphans", "--ids-only"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut listed: Vec<&str> = run.stdout.lines().collect();
    listed.sort();
    let mut expected = vec![fixable.to_string(), hopeless.to_string()];
    expected.sort();
    assert_eq!(listed, expected);
    let run = modcon(&url, &as_op("root", &pw, &["chats", "orphans", "--repair", "--json"]), "");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["repaired_count"], 1);
    assert_eq!(j["repaired"][0]["new_owner"], "alice");
    assert_eq!(j["failed"][0]["reason"], "no user message with a known author");
    assert_eq!(count(&db, "select count(*) from chat_sessions where user_id = $1", &[uid(&alice)]).await, 1);

    let (_, mod_pw) = signed(&db, "mod", Role::Moderator).await;
    let pm = Uuid::new_v4();
    Batch { private_messages: vec![modcon::db::insert::NewPrivateMessage { id: pm.into(), sender_id: Some(alice),
        recipient_id: None, content: "spam".into(), created_at: chrono::Utc::now() }], ..Batch::default() }
        .insert(&db).await.unwrap();
    let run = modcon(&url, &as_op("mod", &mod_pw, &["messages", "delete", &pm.to_string(), "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["deleted_count"], 1);
    let first = db.query_i64("select count(*) from chat_messages where session_id = $1", &[uid(&fixable)]).await.unwrap();
    assert_eq!(first, Some(3));
    let ids = modcon::db::lists::chat_messages(&db, &fixable, None, None, 10).await.unwrap();
    let run = modcon(&url, &as_op("mod", &mod_pw, &["chats", "messages", "delete", &ids.rows[0].id.to_string(), "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from chat_messages where session_id = $1", &[uid(&fixable)]).await, 2);
}

async fn guilds_delete_and_audit_list_work_from_the_shell(db, url) {
    let (_, pw) = signed(&db, "root", Role::Admin).await;
    let g = Uuid::new_v4();
    Batch { guilds: vec![NewGuild { id: g.into(), name: "Spam Guild".into(), owner_id: None, created_at: chrono::Utc::now() }],
        ..Batch::default() }.insert(&db).await.unwrap();
    session(&db, None, Some(g.into()), 4, None).await;
    let run = modcon(&url, &as_op("root", &pw, &["guilds", "delete", &g.to_string(), "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["deleted_count"], 1);
    assert_eq!(j["counts"]["chat_messages"], 4);
    let run = modcon(&url, &as_op("root", &pw, &["audit", "list", "--action", "guild.delete", "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["entries"][0]["target_label"], "Spam Guild");
    assert_eq!(j["entries"][0]["actor_name"], "root");
    let run = modcon(&url, &as_op("root", &pw, &["audit", "list"]), "");
    assert!(run.stdout.contains("guild.delete"), "{}", run.stdout);
    assert!(run.stdout.contains("auth.sign_in"), "{}", run.stdout);
}


async fn guild_and_user_deletes_clear_their_cache_keys_and_survive_redis_being_down(db, url) {
    let (_, pw) = signed(&db, "root", Role::Admin).await;
    let (doomed, kept) = (Uuid::new_v4(), Uuid::new_v4());
    Batch { guilds: vec![
        NewGuild { id: doomed.into(), name: "Doomed".into(), owner_id: None, created_at: chrono::Utc::now() },
        NewGuild { id: kept.into(), name: "Kept".into(), owner_id: None, created_at: chrono::Utc::now() },
    ], ..Batch::default() }.insert(&db).await.unwrap();
    let victim = user(&db, "victim").await;
    let bystander = user(&db, "bystander").await;
    let redis = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut con = redis.get_multiplexed_async_connection().await.expect("Redis at 127.0.0.1:6379");
    let keys = [
        format!("guild:{doomed}:settings"), format!("guild:{doomed}:members"), format!("guild:{doomed}:a:b"),
        format!("guild:{kept}:settings"), format!("user:{victim}:profile"), format!("user:{bystander}:profile"),
    ];
    for key in &keys {
        let _: () = redis::cmd("SET").arg(key).arg("x").query_async(&mut con).await.unwrap();
    }
    let config = std::env::temp_dir().join(format!("modcon-cache-{}.toml", Uuid::new_v4().simple()));
    std::fs::write(&config, "[cache]\nredis_url = \"redis://127.0.0.1:6379/0\"\n").unwrap();
    let config = config.display().to_string();
    let exists = |key: &str| {
        let key = key.to_string();
        let redis = redis.clone();
        async move {
            let mut con = redis.get_multiplexed_async_connection().await.unwrap();
            let n: i64 = redis::cmd("EXISTS").arg(&key).query_async(&mut con).await.unwrap();
            n == 1
        }
    };

    let run = modcon(&url, &as_op("root", &pw, &["--config", &config, "guilds", "delete", &doomed.to_string(), "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["cache"]["status"], "cleared");
    assert_eq!(j["cache"]["keys"], 3);
    for key in &keys[..3] {
        assert!(!exists(key).await, "{key} is gone");
    }
    for key in &keys[3..] {
        assert!(exists(key).await, "{key} stays");
    }
    let run = modcon(&url, &as_op("root", &pw, &["--config", &config, "users", "delete", &victim.to_string(), "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["cache"]["keys"], 1);
    assert!(!exists(&keys[4]).await);
    assert!(exists(&keys[5]).await && exists(&keys[3]).await);

    // Redis down: the delete still commits; the outcome says the cache was not cleared.
    std::fs::write(&config, "[cache]\nredis_url = \"redis://127.0.0.1:1/0\"\n").unwrap();
    let run = modcon(&url, &as_op("root", &pw, &["--config", &config, "guilds", "delete", &kept.to_string(), "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["cache"]["status"], "not_cleared");
    assert!(run.stderr.contains("cache NOT cleared"), "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from guilds", &[]).await, 0);
    assert!(exists(&keys[3]).await, "nothing could touch Redis");
    let _: () = redis::cmd("DEL").arg(&keys[3]).arg(&keys[5]).query_async(&mut con).await.unwrap();
    let _ = std::fs::remove_file(&config);
}


async fn passwd_seed_and_migrate_work_from_the_shell(db, url) {
    operator(&db, "Newop", Role::Moderator).await;
    // From a pipe: the first line is the password; it is audited, never echoed.
    let run = modcon(&url, &["passwd", "newop"], "a-long-password\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("a-long-password") && !run.stderr.contains("a-long-password"));
    auth::sign_in(&db, attempt("newop", "a-long-password")).await.unwrap();
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'auth.password_set' and actor_name like 'passwd:%'", &[]).await, 1);
    let run = modcon(&url, &["passwd", "newop"], "short\n");
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = modcon(&url, &["passwd", "nobody"], "long enough password\n");
    assert_eq!(run.code, 2, "{}", run.stderr);

    let run = modcon(&url, &["seed", "--users", "50", "--guilds", "3", "--sessions", "120", "--messages-per-session", "4"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("added 50 users, 3 guilds, 120 chat sessions, 480 chat messages"), "{}", run.stdout);
    assert_eq!(count(&db, "select count(*) from chat_messages", &[]).await, 480);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 120);
    // Migrating again is harmless.
    let run = modcon(&url, &["migrate"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from users", &[]).await, 51);
}

}

#[test]
fn a_password_in_the_database_url_never_reaches_the_log_or_the_screen() {
    let data = std::env::temp_dir().join(format!("modcon-log-{}", Uuid::new_v4().simple()));
    let out = Command::new("setsid")
        .arg("--wait")
        .arg(env!("CARGO_BIN_EXE_modcon"))
        .args([
            "--database-url",
            "postgres://someone:hunter2-secret@127.0.0.1:1/platform",
            "migrate",
        ])
        .env_remove("DATABASE_URL")
        .env("MODCON_DATA_DIR", &data)
        .env("MODCON_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "unreachable: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(data.join("modcon.log")).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !log.contains("hunter2") && !stderr.contains("hunter2"),
        "log:\n{log}\nstderr:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&data);
    // A URL that does not parse is reported without its password too.
    let out = Command::new(env!("CARGO_BIN_EXE_modcon"))
        .args([
            "--database-url",
            "postgres://someone:hunter2@[bad/x",
            "migrate",
        ])
        .env_remove("DATABASE_URL")
        .env("MODCON_DATA_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
    assert_eq!(out.status.code(), Some(2));
}

both_backends_with_url! {

// A run that stops after some batches committed says exactly which ids were done and
// which never ran, exits 1 ("partly done"), and with --json prints one document.
async fn a_run_stopped_after_some_batches_lists_the_ids_done_and_never_run(db, url) {
    let (admin, pw) = signed(&db, "root", Role::Admin).await;
    let mut ids = Vec::new();
    for _ in 0..250 {
        ids.push(session(&db, Some(admin.clone()), None, 1, None).await);
    }
    // The database refuses to delete one session of the second batch.
    let blocker = ids[150].to_string();
    if url.starts_with("mysql:") {
        use sqlx::Connection as _;
        let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "create trigger stop_here before delete on chat_sessions for each row \
             begin if old.id = '{blocker}' then \
             signal sqlstate '45000' set message_text = 'refused by the test'; end if; end"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let statements: Vec<String> = if url.starts_with("mysql:") {
        Vec::new()
    } else if url.starts_with("sqlite:") {
        vec![format!(
            "create trigger stop_here before delete on chat_sessions when old.id = '{blocker}' \
             begin select raise(abort, 'refused by the test'); end"
        )]
    } else {
        vec![
            "create function stop_here() returns trigger language plpgsql as \
             'begin raise exception ''refused by the test''; end;'"
                .to_string(),
            format!(
                "create trigger stop_here before delete on chat_sessions for each row \
                 when (old.id = '{blocker}') execute function stop_here()"
            ),
        ]
    };
    for statement in statements {
        let statement: &'static str = Box::leak(statement.into_boxed_str());
        db.execute_statement(statement, &[]).await.unwrap();
    }
    let stdin: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete", "--json"]), &stdin);
    assert_eq!(run.code, 1, "partly done: {}", run.stderr);
    let j = run.json();
    assert_eq!(j["success"], false);
    assert_eq!(j["partly_done"], true);
    assert_eq!(j["deleted_count"], 100);
    assert!(j["stopped_because"].as_str().unwrap().contains("refused by the test"), "{j}");
    let done: Vec<String> = j["done_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let never: Vec<String> = j["never_ran_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let expected_done: Vec<String> = ids[..100].iter().map(|id| id.to_string()).collect();
    let expected_never: Vec<String> = ids[100..].iter().map(|id| id.to_string()).collect();
    assert_eq!(done, expected_done);
    assert_eq!(never, expected_never);
    // What it printed is what the database holds.
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 150);
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'chat_session.delete'", &[]).await, 100);
    // Without --json, the same in words, on stderr "partly done".
    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete"]), &stdin);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("partly done"), "{}", run.stderr);
    assert!(run.stdout.contains("never ran"), "{}", run.stdout);
}

// `[confirm] require_reason` applies to commands too; `audit list --limit 0` lists
// nothing; a NUL in a comment's new text is refused on every backend.
async fn commands_honour_require_reason_limit_zero_and_refuse_nul_text(db, url) {
    let (admin, pw) = signed(&db, "root", Role::Admin).await;
    let s = session(&db, Some(admin), None, 1, None).await.to_string();
    let config = std::env::temp_dir().join(format!("modcon-cfg-{}.toml", Uuid::new_v4().simple()));
    std::fs::write(&config, "[confirm]\nrequire_reason = true\n").unwrap();
    let config = config.display().to_string();
    let mut args = vec!["--config", config.as_str()];
    args.extend(as_op("root", &pw, &["chats", "delete", &s]));
    let run = modcon(&url, &args, "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("reason is required"), "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 1);
    let run = modcon(&url, &as_op("root", &pw, &["audit", "list", "--limit", "0", "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["entries"], serde_json::json!([]));
    let text_file = std::env::temp_dir().join(format!("modcon-nul-{}", Uuid::new_v4().simple()));
    std::fs::write(&text_file, "a\u{0}b").unwrap();
    let text_file = text_file.display().to_string();
    let run = modcon(&url, &as_op("root", &pw, &["comments", "edit", &Uuid::new_v4().to_string(), "--text-file", &text_file]), "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("NUL"), "{}", run.stderr);
}

// An operation refused for permission is on the audit record, with who and why.
async fn a_refused_operation_is_audited(db, url) {
    let (admin, _) = signed(&db, "root", Role::Admin).await;
    let (_, mod_pw) = signed(&db, "mod", Role::Moderator).await;
    let s = session(&db, Some(admin), None, 2, None).await.to_string();
    let run = modcon(&url, &as_op("mod", &mod_pw, &["chats", "delete", &s]), "");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 1);
    assert_eq!(
        count(&db, "select count(*) from {#modcon_audit_log} where action = 'chat_session.delete.refused' and actor_name = 'mod' and target_id = ?", &[Arg::Text(s.clone())]).await,
        1
    );
}

// MFA from the shell: enrolment confirmed with a piped code, then every command of that
// operator needs a code (a file, or a usage error without a terminal), and another
// admin resets it.
async fn mfa_enrolment_codes_and_reset_work_from_the_shell(db, url) {
    let (_, pw) = signed(&db, "root", Role::Admin).await;
    let (_, other_pw) = signed(&db, "other", Role::Admin).await;
    common::fresh_totp_window();
    let (run, secret) = enroll_from_the_shell(&url, "root");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("otpauth://totp/modcon:root?secret="), "{}", run.stdout);
    assert!(run.stdout.contains('▀') || run.stdout.contains('▄'), "a QR code: {}", run.stdout);
    let recovery: Vec<&str> = run.stdout.lines().map(str::trim)
        .filter(|l| l.len() == 11 && l.as_bytes()[5] == b'-').collect();
    assert_eq!(recovery.len(), 8, "{}", run.stdout);
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'auth.mfa_enrolled' and actor_name like 'mfa:%'", &[]).await, 1);

    let run = modcon(&url, &as_op("root", &pw, &["audit", "list"]), "");
    assert_eq!(run.code, 2, "no terminal, no --otp-file: {}", run.stderr);
    assert!(run.stderr.contains("--otp-file"), "{}", run.stderr);

    let otp = |code: &str| {
        let file = std::env::temp_dir().join(format!("modcon-otp-{}", Uuid::new_v4().simple()));
        std::fs::write(&file, format!("{code}\n")).unwrap();
        file.display().to_string()
    };
    let wrong = otp(&common::wrong_totp_code(&secret));
    let run = modcon(&url, &as_op("root", &pw, &["audit", "list", "--otp-file", &wrong]), "");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("wrong username or password"), "{}", run.stderr);
    let right = otp(&common::totp_code(&secret, 1));
    let run = modcon(&url, &as_op("root", &pw, &["audit", "list", "--otp-file", &right]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("auth.mfa_enrolled"), "{}", run.stdout);

    let own = otp(recovery[0]);
    let run = modcon(&url, &as_op("root", &pw, &["mfa", "reset", "root", "--otp-file", &own]), "");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("another admin"), "{}", run.stderr);
    let run = modcon(&url, &as_op("other", &other_pw, &["mfa", "reset", "root"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'auth.mfa_reset' and actor_name = 'other'", &[]).await, 1);
    let run = modcon(&url, &as_op("root", &pw, &["audit", "list"]), "");
    assert_eq!(run.code, 0, "after the reset the password is enough: {}", run.stderr);
}

// A role that cannot sign in gets no password, and nothing changes.
async fn passwd_refuses_a_platform_role_that_cannot_sign_in(db, url) {
    user(&db, "plain").await;
    let run = modcon(&url, &["passwd", "plain"], "long-enough-pw\n");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cannot sign in"), "{}", run.stderr);
    assert_eq!(count(&db, "select count(*) from {#modcon_operators}", &[]).await, 0);
}

// `[limits]` reaches the commands from the config file: the plan shows what is left, and
// a batch that would go over is refused whole, in JSON too, with exit code 7.
async fn a_delete_over_the_hourly_limit_is_refused_whole_with_when_it_frees_up_and_exit_7(db, url) {
    let (admin, pw) = signed(&db, "root", Role::Admin).await;
    let config = std::env::temp_dir().join(format!("modcon-limits-{}.toml", Uuid::new_v4().simple()));
    std::fs::write(&config, "[limits]\nchat_sessions_per_hour = 2\n").unwrap();
    let config = config.display().to_string();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(session(&db, Some(admin.clone()), None, 1, None).await.to_string());
    }
    let with_config = |rest: &[&str]| {
        let mut args = vec!["--config", config.as_str()];
        args.extend(as_op("root", &pw, rest));
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let run_with = |rest: &[&str]| {
        let args = with_config(rest);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        modcon(&url, &args, "")
    };

    let planned = run_with(&["chats", "delete", &ids[0], &ids[1], &ids[2], "--plan", "--json"]);
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    let j = planned.json();
    assert_eq!((j["limit"].clone(), j["used"].clone(), j["remaining"].clone()), (2.into(), 0.into(), 2.into()));
    assert_eq!(j["frees_at"], Value::Null);

    let first = run_with(&["chats", "delete", &ids[0], "--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);

    let table = run_with(&["chats", "delete", &ids[1], &ids[2], "--plan"]);
    assert!(table.stdout.contains("rate limit: 1 of 2 chat sessions left this hour"), "{}", table.stdout);
    assert!(table.stdout.contains("it would be refused until"), "{}", table.stdout);

    let refused = run_with(&["chats", "delete", &ids[1], &ids[2], "--json"]);
    assert_eq!(refused.code, 7, "{}", refused.stderr);
    assert!(refused.stderr.contains("rate limit") && refused.stderr.contains("frees up at"), "{}", refused.stderr);
    let j = refused.json();
    assert_eq!(j["status"], "rate_limited");
    assert_eq!((j["limit"].clone(), j["used"].clone(), j["remaining"].clone()), (2.into(), 1.into(), 1.into()));
    assert!(j["frees_at"].is_string(), "{j}");
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 2, "nothing of the batch went");
    let _ = std::fs::remove_file(&config);
}

}

/// `--read-only` on a SQLite file that cannot be written (opened read-only): the
/// operator signs in (checked, not recorded, as nothing can be written) and reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_works_on_a_sqlite_file_that_cannot_be_written() {
    let test = common::TestDb::sqlite().await;
    let (_, pw) = signed(&test.db, "root", Role::Admin).await;
    let before = count(&test.db, "select count(*) from {#modcon_audit_log}", &[]).await;
    let url = format!("{}?mode=ro", test.url);
    let run = modcon(
        &url,
        &[
            "--read-only",
            "audit",
            "list",
            "--user",
            "root",
            "--password-file",
            &pw,
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("auth.password_set"), "{}", run.stdout);
    let wrong = std::env::temp_dir().join(format!("modcon-pw-{}", Uuid::new_v4().simple()));
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let run = modcon(
        &url,
        &[
            "--read-only",
            "audit",
            "list",
            "--user",
            "root",
            "--password-file",
            &wrong.display().to_string(),
        ],
        "",
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("wrong username or password"),
        "{}",
        run.stderr
    );
    assert_eq!(
        count(&test.db, "select count(*) from {#modcon_audit_log}", &[]).await,
        before
    );
    test.finish().await;
}

// SQLite text that is not UTF-8 (PostgreSQL refuses it on the way in): `chats orphans`
// and `audit list` list every row, the bad bytes shown as `�`, and exit 0.
mod commands_list_rows_whose_text_is_not_utf8_on_sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let test = common::TestDb::sqlite().await;
        let (db, url) = (test.db.clone(), test.url.clone());
        let (_, pw) = signed(&db, "root", Role::Admin).await;
        let mut orphans = Vec::new();
        for _ in 0..5 {
            orphans.push(session(&db, None, None, 1, None).await);
        }
        for (id, bytes) in [(&orphans[2], "x'7261779b324a'"), (&orphans[3], "x'eda080'")] {
            db.execute_statement(
                &format!("update chat_sessions set title = cast({bytes} as text) where id = ?"),
                &[Arg::Text(id.to_string())],
            )
            .await
            .unwrap();
        }
        db.execute_statement(
            "insert into modcon_audit_log (batch_id, actor_name, action, target_type, \
             target_label, counts, details) values (?, 'ghost', 'chat_session.delete', \
             'chat_session', cast(x'7261779b324a' as text), 'not json', cast(x'eda080' as text))",
            &[Arg::Text(Uuid::new_v4().to_string())],
        )
        .await
        .unwrap();

        let listed = modcon(
            &url,
            &as_op("root", &pw, &["chats", "orphans", "--json"]),
            "",
        );
        assert_eq!(listed.code, 0, "{}", listed.stderr);
        let j = listed.json();
        assert_eq!(j["count"], 5);
        let titles: Vec<String> = j["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["title"].as_str().unwrap().to_string())
            .collect();
        assert!(titles.contains(&"raw\u{fffd}2J".to_string()), "{titles:?}");
        assert!(
            listed.stdout.is_ascii(),
            "JSON escapes what is not printable ASCII"
        );

        let table = modcon(&url, &as_op("root", &pw, &["chats", "orphans"]), "");
        assert_eq!(table.code, 0, "{}", table.stderr);
        assert_eq!(table.stdout.lines().count(), 5, "{}", table.stdout);
        assert!(table.stdout.contains("raw\u{fffd}2J"), "{}", table.stdout);
        assert!(
            !table.stdout.contains('\u{9b}'),
            "no C1 control reaches the terminal"
        );

        let ids = modcon(
            &url,
            &as_op("root", &pw, &["chats", "orphans", "--ids-only"]),
            "",
        );
        assert_eq!(ids.stdout.lines().count(), 5, "{}", ids.stdout);

        let audit = modcon(&url, &as_op("root", &pw, &["audit", "list", "--json"]), "");
        assert_eq!(audit.code, 0, "{}", audit.stderr);
        let entries = audit.json()["entries"].as_array().unwrap().clone();
        let forged = entries
            .iter()
            .find(|e| e["actor_name"] == "ghost")
            .expect("the forged row is listed");
        assert_eq!(forged["counts"], "not json");
        assert_eq!(forged["target_label"], "raw\u{fffd}2J");
        assert!(forged["details"].as_str().unwrap().contains('\u{fffd}'));

        let audit = modcon(&url, &as_op("root", &pw, &["audit", "list"]), "");
        assert_eq!(audit.code, 0, "{}", audit.stderr);
        assert!(audit.stdout.contains("raw\u{fffd}2J"), "{}", audit.stdout);
        test.finish().await;
    }
}

both_backends_with_url! {

// `trash list`, `restore --plan`, `restore` and a second restore, from the shell.
async fn trash_list_and_restore_put_deleted_sessions_back_from_the_shell(db, url) {
    let (_, pw) = signed(&db, "root", Role::Admin).await;
    let (_, mod_pw) = signed(&db, "mod", Role::Moderator).await;
    let alice = user(&db, "alice").await;
    let s = session(&db, Some(alice.clone()), None, 3, None).await;
    let sid = s.to_string();
    let run = modcon(&url, &as_op("root", &pw, &["chats", "delete", &sid]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);

    let run = modcon(&url, &as_op("root", &pw, &["trash", "list", "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list = run.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["action"], "chat_session.delete");
    assert_eq!(list[0]["actor"], "root");
    assert_eq!(list[0]["rows"]["chat_sessions"], 1);
    assert_eq!(list[0]["rows"]["chat_messages"], 3);
    let batch = list[0]["batch_id"].as_str().unwrap().to_string();
    let text = modcon(&url, &as_op("root", &pw, &["trash", "list"]), "");
    assert!(text.stdout.contains(&batch) && text.stdout.contains("chat_messages 3"), "{}", text.stdout);

    let refused = modcon(&url, &as_op("mod", &mod_pw, &["trash", "list"]), "");
    assert_eq!(refused.code, 3, "{}", refused.stderr);

    let plan = modcon(&url, &as_op("root", &pw, &["trash", "restore", &batch, "--plan"]), "");
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("4 rows would come back"), "{}", plan.stdout);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 0);

    let run = modcon(&url, &as_op("root", &pw, &["trash", "restore", &batch, "--json"]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["restored_targets"][0], sid);
    assert_eq!(count(&db, "select count(*) from chat_sessions", &[]).await, 1);
    assert_eq!(count(&db, "select count(*) from chat_messages", &[]).await, 3);

    let again = modcon(&url, &as_op("root", &pw, &["trash", "restore", &batch]), "");
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("already restored"), "{}", again.stderr);

    let purge = modcon(&url, &as_op("root", &pw, &["trash", "purge", "--older-than", "0", "--json"]), "");
    assert_eq!(purge.code, 0, "{}", purge.stderr);
    assert_eq!(purge.json()["batches"], 1);
}

}

both_backends_with_url! {

async fn index_plan_shows_the_trigram_indexes_and_create_needs_an_admin(db, url) {
    operator(&db, "root", Role::Admin).await;
    auth::set_password(&db, "root", "root-password", "test").await.unwrap();
    operator(&db, "mod", Role::Moderator).await;
    auth::set_password(&db, "mod", "mod-password", "test").await.unwrap();
    let plan = modcon(&url, &["index", "plan", "--json"], "");
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let json = plan.json();
    let indexes = json["indexes"].as_array().unwrap();
    assert!(indexes.iter().any(|i| i["table"] == "chat_messages" && i["column"] == "content"));
    let text = modcon(&url, &["index", "plan"], "");
    let refused = modcon(&url, &["index", "create", "--user", "mod", "--password-file", "-"], "mod-password\n");
    let created = modcon(&url, &["index", "create", "--user", "root", "--password-file", "-"], "root-password\n");
    match db.backend() {
        modcon::db::Backend::Postgres => {
            // The reference schema: `migrate` made them all.
            assert!(indexes.iter().all(|i| i["exists"] == true), "{json}");
            assert!(text.stderr.contains("every searched column has its trigram index"), "{}", text.stderr);
            assert_eq!(refused.code, 3, "{}", refused.stderr);
            assert_eq!(created.code, 0, "{}", created.stderr);
            assert!(created.stderr.contains("nothing was created"), "{}", created.stderr);
        }
        modcon::db::Backend::Sqlite => {
            assert!(json["unavailable"].as_str().unwrap().contains("SQLite"), "{json}");
            assert!(text.stderr.contains("SQLite has no trigram indexes"), "{}", text.stderr);
            assert_eq!(refused.code, 3, "{}", refused.stderr);
            assert_eq!(created.code, 2, "{}", created.stderr);
        }        modcon::db::Backend::Mysql => {
            assert!(json["unavailable"].as_str().unwrap().contains("MySQL"), "{json}");
            assert!(text.stderr.contains("MySQL has no trigram indexes"), "{}", text.stderr);
            assert_eq!(refused.code, 3, "{}", refused.stderr);
            assert_eq!(created.code, 2, "{}", created.stderr);
        }
    }
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'index.create'", &[]).await, 0);
    // The moderator's refusal is on the record, as every refusal for permission is.
    assert_eq!(count(&db, "select count(*) from {#modcon_audit_log} where action = 'index.create.refused'", &[]).await, 1);
}

}
