//! The console without a terminal: keys in, requests for the worker out; and what it
//! draws, rendered to a test backend and kept as snapshots at 80×24 and 120×40.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use modcon::config::ConfirmConfig;
use modcon::db::audit::AuditEntry;
use modcon::db::ids::TargetIds;
use modcon::db::lists::{ChatSessionRow, Page, PrivateMessageRow, Seek, SortCursor, TimeCursor};
use modcon::db::plan::{
    Done, FailReason, OpKind, Operation, Outcome, Plan, PlannedTarget, Refusal,
    Request as OpRequest, RowCounts,
};
use modcon::db::{Actor, Allowance, Backend, DataError, Id, Role};
use modcon::tui::app::{App, Options, Tab};
use modcon::tui::event::Event;
use modcon::tui::keymap::Keymap;
use modcon::tui::popup::Popup;
use modcon::tui::theme::Theme;
use modcon::tui::ui;
use modcon::tui::worker::{PageData, Query, Request, Response, Slot};
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use uuid::Uuid;

fn options(read_only: bool, color: bool) -> Options {
    Options {
        read_only,
        demo_operators: vec![("admin".into(), "admin-demo".into(), "admin".into())],
        confirm: ConfirmConfig::default(),
        keymap: Keymap::default(),
        keymap_problems: Vec::new(),
        theme: Theme { color },
    }
}

fn data(response: Response) -> Event {
    Event::Data(Box::new(response))
}

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Event {
    let modifiers = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    Event::Key(KeyEvent::new(KeyCode::Char(c), modifiers))
}

fn ctrl(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn typed(app: &mut App, text: &str) -> Vec<Request> {
    text.chars().flat_map(|c| app.update(ch(c))).collect()
}

fn id(n: u128) -> Id {
    Id::from(Uuid::from_u128(
        0x1000_0000_0000_4000_8000_0000_0000_0000 + n,
    ))
}

fn at(minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, minute, 0).unwrap()
}

fn session(n: u128, title: &str, owner: Option<&str>, messages: i64) -> ChatSessionRow {
    ChatSessionRow {
        id: id(n),
        title: title.into(),
        owner_id: owner.map(|_| id(900 + n)),
        owner_name: owner.map(str::to_string),
        guild_id: None,
        guild_name: n.is_multiple_of(3).then(|| "Book Lovers".to_string()),
        model: "gpt-small".into(),
        messages,
        created_at: at(50 - n as u32),
        updated_at: at(50 - n as u32),
    }
}

/// Hostile titles among ordinary ones.
fn sessions() -> Vec<ChatSessionRow> {
    vec![
        session(1, "travel plans #1", Some("alice"), 12),
        session(
            2,
            "\x1b]0;you have been pwned\x07retitled",
            Some("mallory"),
            3,
        ),
        session(
            3,
            "\x1b[2J\x1b[Hcleared your screen",
            Some("evil\u{202e}nimda"),
            7,
        ),
        session(4, "invoice_\u{202e}fdp.exe", None, 5),
        session(5, "日本語のタイトル 🦀🔥", Some("山田太郎"), 21),
        session(6, "zero\u{200b}width\u{feff}", Some("bob"), 0),
        session(7, &"A".repeat(500), Some("carol"), 40),
        session(8, "Z̷̢̛a̸͇͝l̵̰̾g̶̣̈́o̷̡͠", None, 1),
    ]
}

fn admin() -> Actor {
    Actor {
        id: id(999),
        username: "admin".into(),
        role: Role::Admin,
    }
}

/// An app signed in as `actor`, its chat list loaded.
fn signed_in(actor: Actor, read_only: bool, size: (u16, u16)) -> App {
    let mut app = App::new(options(read_only, true), size);
    app.update(data(Response::Connected {
        backend: Backend::Sqlite,
        url: "sqlite:demo.db".into(),
        ids: Default::default(),
    }));
    let requests = app.update(data(Response::SignedIn(actor)));
    let seq = requests
        .iter()
        .find_map(|r| match r {
            Request::Load {
                slot: Slot::Chats,
                seq,
                ..
            } => Some(*seq),
            _ => None,
        })
        .expect("signing in loads the chat list");
    app.update(data(Response::Page {
        slot: Slot::Chats,
        seq,
        result: Ok(PageData::ChatSessions(Page {
            rows: sessions(),
            next: None,
        })),
    }));
    app
}

fn screen(app: &App, width: u16, height: u16) -> (String, Buffer) {
    let area = Rect::new(0, 0, width, height);
    let mut buf = Buffer::empty(area);
    ui::render(app, area, &mut buf);
    let mut text = String::new();
    for y in 0..height {
        let mut line = String::new();
        for x in 0..width {
            line.push_str(buf[(x, y)].symbol());
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    (text, buf)
}

/// Nothing a stranger wrote may reach the terminal as a control character.
fn assert_harmless(text: &str) {
    for c in text.chars() {
        let code = c as u32;
        assert!(
            !((0x7f..=0x9f).contains(&code) || (code < 0x20 && c != '\n')),
            "control character U+{code:04X} on screen"
        );
        assert!(
            !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}'),
            "bidi control U+{code:04X} on screen"
        );
    }
}

fn plan_for(ids: &[Id], messages: i64, refused: Vec<Refusal>) -> Plan {
    let targets: Vec<PlannedTarget> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| PlannedTarget {
            id: id.clone(),
            label: format!("session {i} — alice"),
            counts: RowCounts::new()
                .with("chat_sessions", 1)
                .with("chat_messages", messages),
            kept: RowCounts::new(),
            new_owner: None,
            snapshot: serde_json::Value::Null,
        })
        .collect();
    let mut counts = RowCounts::new();
    for t in &targets {
        counts.add_all(&t.counts);
    }
    let mut all: Vec<Id> = ids.to_vec();
    all.extend(refused.iter().map(|r| r.id.clone()));
    Plan {
        request: OpRequest::new(
            Operation::new(OpKind::DeleteChatSessions, TargetIds::new(all).unwrap()),
            None,
        ),
        targets,
        refused,
        counts,
        kept: RowCounts::new(),
        soft_delete: false,
        allowance: None,
    }
}

fn plan_request(requests: &[Request]) -> Option<(u64, OpKind, Vec<Id>)> {
    requests.iter().find_map(|r| match r {
        Request::Plan { seq, groups, .. } if groups.len() == 1 => {
            Some((*seq, groups[0].kind, groups[0].ids.clone()))
        }
        _ => None,
    })
}

#[test]
fn sign_in_sends_credentials_to_the_worker_and_shows_demo_operators() {
    let mut app = App::new(options(false, true), (80, 24));
    app.update(data(Response::Connected {
        backend: Backend::Sqlite,
        url: "sqlite:demo.db".into(),
        ids: Default::default(),
    }));
    let (text, _) = screen(&app, 80, 24);
    insta::assert_snapshot!("sign_in_80x24", text);
    typed(&mut app, "admin");
    app.update(key(KeyCode::Enter));
    typed(&mut app, "s3cret");
    let (text, _) = screen(&app, 80, 24);
    assert!(!text.contains("s3cret"), "the password is masked");
    assert!(text.contains("••••••"));
    let requests = app.update(key(KeyCode::Enter));
    assert!(matches!(
        requests.as_slice(),
        [Request::SignIn { username, password, .. }] if username == "admin" && password == "s3cret"
    ));
    app.update(data(Response::SignInFailed(
        "wrong username or password".into(),
    )));
    let (text, _) = screen(&app, 80, 24);
    assert!(text.contains("wrong username or password"));
    insta::assert_snapshot!("sign_in_failed_120x40", screen(&app, 120, 40).0);
}

#[test]
fn an_operator_with_mfa_is_asked_for_the_code_after_the_password_and_esc_goes_back() {
    let mut app = App::new(options(false, false), (80, 24));
    app.update(data(Response::Connected {
        backend: Backend::Sqlite,
        url: "sqlite:x.db".into(),
        ids: Default::default(),
    }));
    typed(&mut app, "root");
    app.update(key(KeyCode::Enter));
    typed(&mut app, "s3cret");
    let requests = app.update(key(KeyCode::Enter));
    assert!(matches!(
        requests.as_slice(),
        [Request::SignIn { code: None, .. }]
    ));
    app.update(data(Response::CodeRequired));
    typed(&mut app, "123456");
    insta::assert_snapshot!("sign_in_code_80x24", screen(&app, 80, 24).0);
    let requests = app.update(key(KeyCode::Enter));
    assert!(matches!(
        requests.as_slice(),
        [Request::SignIn { username, password, code: Some(code) }]
            if username == "root" && password == "s3cret" && code == "123456"
    ));
    app.update(data(Response::SignInFailed(
        "wrong username or password".into(),
    )));
    let (text, _) = screen(&app, 80, 24);
    assert!(text.contains("wrong username or password"), "{text}");
    assert!(!text.contains("123456"), "the code field is gone");
    // Back at the password: type it, then Esc at the code step returns to it too.
    typed(&mut app, "s3cret");
    app.update(key(KeyCode::Enter));
    app.update(data(Response::CodeRequired));
    app.update(key(KeyCode::Esc));
    assert!(
        !app.quit,
        "Esc at the code step goes back, it does not quit"
    );
    assert!(!app.sign_in.needs_code);
}

#[test]
fn hostile_titles_render_harmlessly_at_every_size() {
    let app = signed_in(admin(), false, (120, 40));
    let (text, _) = screen(&app, 120, 40);
    assert_harmless(&text);
    assert!(
        text.contains("␛]0;you have been pwned␇retitled"),
        "escape shown, not run:\n{text}"
    );
    assert!(text.contains("invoice_�fdp.exe"));
    insta::assert_snapshot!("chats_120x40", text);
    let (text, _) = screen(&app, 80, 24);
    assert_harmless(&text);
    insta::assert_snapshot!("chats_80x24", text);
    for w in [1, 5, 10, 23, 24, 30, 50, 79] {
        for h in [1, 2, 3, 6, 7, 8, 12] {
            let (text, _) = screen(&app, w, h);
            assert_harmless(&text);
        }
    }
}

#[test]
fn the_confirmation_shows_what_is_left_of_the_hourly_limit_and_refuses_a_plan_over_it() {
    let allowance = |remaining: u32| Allowance {
        limit: 3,
        used: 3 - remaining,
        remaining,
        frees_at: Some(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()),
    };
    for (remaining, fits) in [(2, true), (1, false)] {
        let mut app = signed_in(admin(), false, (120, 40));
        app.update(ch(' '));
        app.update(ch(' '));
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).expect("d asks for a plan");
        let mut plan = plan_for(&ids, 4, vec![]);
        plan.allowance = Some(allowance(remaining));
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan]),
        }));
        let (text, _) = screen(&app, 120, 40);
        let left = format!("{remaining} of 3 chat sessions left this hour");
        assert!(text.contains(&left), "{text}");
        let requests = app.update(ch('y'));
        if fits {
            assert!(
                matches!(requests.first(), Some(Request::Execute { .. })),
                "two of two left: y executes"
            );
        } else {
            assert!(requests.is_empty(), "over the limit: y does nothing");
            let (text, _) = screen(&app, 120, 40);
            assert!(
                text.contains(
                    "over your hourly limit (1 of 3 chat sessions left this hour): frees up at"
                ),
                "{text}"
            );
        }
    }
}

#[test]
fn tiny_terminals_say_so_instead_of_drawing() {
    let app = signed_in(admin(), false, (20, 5));
    let (text, _) = screen(&app, 20, 5);
    assert!(text.starts_with("terminal too small"), "{text}");
}

#[test]
fn marking_three_sessions_and_deleting_plans_confirms_and_executes() {
    let mut app = signed_in(admin(), false, (120, 40));
    app.update(ch(' '));
    app.update(ch(' '));
    app.update(ch(' '));
    let (text, _) = screen(&app, 120, 40);
    assert!(text.contains("3 selected"), "{text}");
    let requests = app.update(ch('d'));
    let (seq, kind, ids) = plan_request(&requests).expect("d asks for a plan");
    assert_eq!(kind, OpKind::DeleteChatSessions);
    assert_eq!(ids, vec![id(1), id(2), id(3)]);
    let missing = Refusal {
        id: id(77),
        label: None,
        reason: FailReason::NotFound,
    };
    app.update(data(Response::Planned {
        seq,
        result: Ok(vec![plan_for(&ids, 15, vec![missing])]),
    }));
    assert!(matches!(app.popup, Some(Popup::Confirm(_))));
    let (text, _) = screen(&app, 120, 40);
    insta::assert_snapshot!("confirm_delete_120x40", text);
    insta::assert_snapshot!("confirm_delete_80x24", screen(&app, 80, 24).0);
    let messages_line = text
        .lines()
        .position(|l| l.contains("chat messages"))
        .unwrap();
    let sessions_line = text
        .lines()
        .position(|l| l.contains(" chat sessions") && !l.contains("Delete"))
        .unwrap();
    assert!(messages_line < sessions_line, "message counts come first");

    // The key that opened the popup does not confirm it; Enter on the initial focus
    // (Cancel) cancels.
    assert!(app.update(ch('d')).is_empty());
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(app.popup.is_none());
    assert_eq!(app.chats.marks.len(), 3, "cancelling keeps the marks");

    let requests = app.update(ch('d'));
    let (seq, _, ids) = plan_request(&requests).unwrap();
    app.update(data(Response::Planned {
        seq,
        result: Ok(vec![plan_for(&ids, 15, vec![])]),
    }));
    let requests = app.update(ch('y'));
    let Some(Request::Execute { seq, plans, stop }) = requests.into_iter().next() else {
        panic!("y executes the confirmed plans");
    };
    assert_eq!(plans[0].targets.len(), 3);
    assert!(matches!(app.popup, Some(Popup::Progress(_))));
    insta::assert_snapshot!("progress_80x24", screen(&app, 80, 24).0);
    // Esc stops after the current batch.
    app.update(key(KeyCode::Esc));
    assert!(stop.load(std::sync::atomic::Ordering::SeqCst));
    let outcome = Outcome {
        batch_id: Uuid::nil(),
        request: plans[0].request.clone(),
        done: ids
            .iter()
            .map(|id| Done {
                id: id.clone(),
                label: "session — alice".into(),
                counts: RowCounts::new().with("chat_messages", 15),
                new_owner: None,
            })
            .collect(),
        failed: vec![],
        counts: RowCounts::new()
            .with("chat_sessions", 3)
            .with("chat_messages", 45),
        kept: RowCounts::new(),
        soft_delete: false,
    };
    let requests = app.update(data(Response::Executed {
        cache: None,
        seq,
        outcomes: vec![outcome],
        not_run: vec![],
        error: None,
    }));
    assert!(
        requests.iter().any(|r| matches!(
            r,
            Request::Load {
                slot: Slot::Chats,
                ..
            }
        )),
        "the list refreshes"
    );
    assert!(matches!(app.popup, Some(Popup::Outcome(_))));
    assert_eq!(
        app.chats.marks.len(),
        0,
        "marks of deleted rows are cleared"
    );
    let (text, _) = screen(&app, 120, 40);
    assert!(
        text.contains("deleted 3 chat sessions (45 messages)"),
        "{text}"
    );
    insta::assert_snapshot!("outcome_120x40", text);
    app.update(key(KeyCode::Enter));
    let (text, _) = screen(&app, 120, 40);
    assert!(text.contains("last: deleted 3 chat sessions (45 messages)"));
}

#[test]
fn a_plan_that_changed_is_shown_again_instead_of_deleting() {
    let mut app = signed_in(admin(), false, (80, 24));
    let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
    app.update(data(Response::Planned {
        seq,
        result: Ok(vec![plan_for(&ids, 3, vec![])]),
    }));
    let Some(Request::Execute { seq, plans, .. }) = app.update(ch('y')).into_iter().next() else {
        panic!()
    };
    let fresh = plan_for(&ids, 4, vec![]);
    app.update(data(Response::Executed {
        cache: None,
        seq,
        outcomes: vec![],
        not_run: vec![fresh],
        error: Some(DataError::PlanChanged(Box::new(plans[0].clone()))),
    }));
    let Some(Popup::Confirm(confirm)) = &app.popup else {
        panic!("the new plan is shown")
    };
    assert!(confirm.changed);
    let (text, _) = screen(&app, 80, 24);
    assert!(text.contains("The plan changed"), "{text}");
    insta::assert_snapshot!("plan_changed_80x24", text);
    // It is confirmed afresh.
    assert!(matches!(
        app.update(ch('y')).first(),
        Some(Request::Execute { .. })
    ));
}

#[test]
fn large_plans_need_the_count_typed_and_a_reason_is_passed_on() {
    let mut app = signed_in(admin(), false, (120, 40));
    let requests = app.update(ctrl('a'));
    let Some(Request::Ids {
        seq,
        query: Query::ChatSessions { .. },
        ..
    }) = requests.first()
    else {
        panic!("Ctrl-a asks for every matching id: {requests:?}");
    };
    let keys: Vec<_> = (0..25)
        .map(|n| modcon::tui::worker::RowKey {
            id: id(100 + n),
            kind: None,
        })
        .collect();
    app.update(data(Response::Ids {
        seq: *seq,
        result: Ok(keys),
    }));
    assert_eq!(app.chats.marks.len(), 25);
    let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
    assert_eq!(ids.len(), 25);
    app.update(data(Response::Planned {
        seq,
        result: Ok(vec![plan_for(&ids, 2, vec![])]),
    }));
    let (text, _) = screen(&app, 120, 40);
    assert!(
        !text.contains("not in the list"),
        "no filter is set: rows not loaded yet are not hidden\n{text}"
    );
    assert!(text.contains("Type 25 to confirm"), "{text}");
    assert!(
        app.update(key(KeyCode::Enter)).is_empty(),
        "not without the count typed"
    );
    // Focus starts on the field to type in; Tab goes on to the reason.
    typed(&mut app, "25");
    app.update(key(KeyCode::Tab));
    typed(&mut app, "spam wave");
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    let requests = app.update(ch('y'));
    let Some(Request::Execute { plans, .. }) = requests.first() else {
        panic!("{requests:?}")
    };
    assert_eq!(
        plans[0].request.reason.as_ref().map(|r| r.as_str()),
        Some("spam wave")
    );
}

#[test]
fn moderators_and_read_only_sessions_get_no_destructive_keys() {
    let moderator = Actor {
        id: id(5),
        username: "mod".into(),
        role: Role::Moderator,
    };
    let mut app = signed_in(moderator, false, (120, 40));
    let (text, _) = screen(&app, 120, 40);
    assert!(!text.contains("d delete"), "{text}");
    let requests = app.update(ch('d'));
    assert!(plan_request(&requests).is_none());
    let (text, _) = screen(&app, 120, 40);
    assert!(
        text.contains("not allowed for the moderator role"),
        "{text}"
    );
    // Private messages are the moderator's to delete.
    app.update(ch('2'));
    let (text, _) = screen(&app, 120, 40);
    assert!(text.contains("d delete"), "{text}");

    let mut app = signed_in(admin(), true, (120, 40));
    let (text, _) = screen(&app, 120, 40);
    assert!(text.contains("READ-ONLY"));
    assert!(!text.contains("d delete"));
    insta::assert_snapshot!("chats_read_only_120x40", text);
    assert!(plan_request(&app.update(ch('d'))).is_none());
}

#[test]
fn filter_and_command_line_turn_into_literal_queries() {
    let mut app = signed_in(admin(), false, (80, 24));
    app.update(ch('/'));
    typed(&mut app, "50% off'; --");
    let requests = app.update(key(KeyCode::Enter));
    let Some(Request::Load {
        query:
            Query::ChatSessions {
                filter,
                seek: Seek::First,
                ..
            },
        ..
    }) = requests.first()
    else {
        panic!("{requests:?}")
    };
    assert_eq!(filter.text.as_deref(), Some("50% off'; --"));
    app.update(ch(':'));
    typed(&mut app, "orphans");
    let requests = app.update(key(KeyCode::Enter));
    assert!(requests.iter().any(|r| matches!(r, Request::Load { query: Query::ChatSessions { filter, .. }, .. } if filter.orphans_only)));
    app.update(ch(':'));
    typed(&mut app, "user bob");
    let requests = app.update(key(KeyCode::Enter));
    assert!(matches!(requests.first(), Some(Request::FindUser { name, .. }) if name == "bob"));
    app.update(ch(':'));
    typed(&mut app, "q");
    app.update(key(KeyCode::Enter));
    assert!(app.quit);
}

#[test]
fn enter_opens_a_sessions_messages_and_esc_goes_back() {
    let mut app = signed_in(admin(), false, (80, 24));
    let requests = app.update(key(KeyCode::Enter));
    let Some(Request::Load {
        slot: Slot::SessionMessages,
        seq,
        query: Query::SessionMessages { session, .. },
    }) = requests.first()
    else {
        panic!("{requests:?}")
    };
    assert_eq!(*session, id(1));
    let rows = vec![modcon::db::lists::ChatMessageRow {
        id: id(500),
        session_id: id(1),
        author_id: None,
        author_name: Some("alice".into()),
        role: "user".into(),
        excerpt: "hello \x1b[31mred".into(),
        length: 14,
        created_at: at(1),
    }];
    app.update(data(Response::Page {
        slot: Slot::SessionMessages,
        seq: *seq,
        result: Ok(PageData::SessionMessages(Page { rows, next: None })),
    }));
    let (text, _) = screen(&app, 80, 24);
    assert_harmless(&text);
    insta::assert_snapshot!("session_messages_80x24", text);
    // Deleting here deletes chat messages (moderators may).
    let (_, kind, ids) = plan_request(&app.update(ch('d'))).unwrap();
    assert_eq!((kind, ids), (OpKind::DeleteChatMessages, vec![id(500)]));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Esc));
    assert!(app.chats.open.is_none());
}

#[test]
fn messages_and_audit_panes_render_and_audit_rows_open_in_full() {
    let mut app = signed_in(admin(), false, (120, 40));
    let requests = app.update(ch('2'));
    let Some(Request::Load {
        slot: Slot::Messages,
        seq,
        ..
    }) = requests.first()
    else {
        panic!("{requests:?}")
    };
    let rows = vec![PrivateMessageRow {
        id: id(600),
        sender_id: None,
        sender_name: None,
        recipient_id: Some(id(1)),
        recipient_name: Some("bob".into()),
        excerpt: "buy cheap \u{9b}31m pills".into(),
        length: 20,
        created_at: at(2),
        read_at: None,
    }];
    app.update(data(Response::Page {
        slot: Slot::Messages,
        seq: *seq,
        result: Ok(PageData::PrivateMessages(Page::<_, SortCursor> {
            rows,
            next: None,
        })),
    }));
    let (text, _) = screen(&app, 120, 40);
    assert_harmless(&text);
    assert!(text.contains("deleted user"));
    insta::assert_snapshot!("messages_120x40", text);

    let requests = app.update(ch('6'));
    assert_eq!(app.tab, Tab::Audit);
    let Some(Request::Load {
        slot: Slot::Audit,
        seq,
        ..
    }) = requests.first()
    else {
        panic!("{requests:?}")
    };
    let entry = AuditEntry {
        id: 42,
        at: at(3),
        batch_id: Uuid::nil(),
        actor_id: Some(id(999).to_string()),
        actor_name: "mod".into(),
        action: "comment.edit".into(),
        target_type: "comment".into(),
        target_id: Some(id(700).to_string()),
        target_label: "alice on «The Book»".into(),
        counts: serde_json::json!({"comments": 1}),
        reason: Some("cleanup".into()),
        details: serde_json::json!({"old_text": "line one\nline \x1b[2Jtwo", "new_text": "fixed", "old_version": 1, "new_version": 2}),
    };
    app.update(data(Response::Page {
        slot: Slot::Audit,
        seq: *seq,
        result: Ok(PageData::Audit(Page {
            rows: vec![entry],
            next: None,
        })),
    }));
    // The hash chain is checked beside the first page; its state is in the title.
    let chain_seq = requests
        .iter()
        .find_map(|r| match r {
            Request::Load {
                slot: Slot::AuditChain,
                seq,
                ..
            } => Some(*seq),
            _ => None,
        })
        .expect("the chain is checked with the first page");
    assert!(screen(&app, 120, 40).0.contains("checking the hash chain"));
    app.update(data(Response::Page {
        slot: Slot::AuditChain,
        seq: chain_seq,
        result: Ok(PageData::AuditChain(modcon::db::audit::ChainReport {
            rows: 42,
            broken: None,
        })),
    }));
    insta::assert_snapshot!("audit_80x24", screen(&app, 80, 24).0);
    app.update(data(Response::Page {
        slot: Slot::AuditChain,
        seq: chain_seq,
        result: Ok(PageData::AuditChain(modcon::db::audit::ChainReport {
            rows: 6,
            broken: Some(modcon::db::audit::ChainBreak::Changed { id: 7 }),
        })),
    }));
    let (text, _) = screen(&app, 120, 40);
    assert!(text.contains("CHAIN BROKEN: row 7 was changed"), "{text}");
    app.update(key(KeyCode::Enter));
    let (text, _) = screen(&app, 120, 40);
    assert_harmless(&text);
    assert!(
        text.contains("old text") && text.contains("line ␛[2Jtwo") && text.contains("fixed"),
        "{text}"
    );
    insta::assert_snapshot!("audit_detail_120x40", text);
}

#[test]
fn help_lists_every_binding_from_the_live_keymap() {
    let mut app = signed_in(admin(), false, (120, 40));
    app.update(ch('?'));
    let (text, _) = screen(&app, 120, 40);
    insta::assert_snapshot!("help_120x40", text);
    assert!(text.contains("Ctrl-a") && text.contains("mark all rows matching the filter"));

    let overrides: std::collections::BTreeMap<String, toml::Value> =
        toml::from_str("quit = \"ctrl-q\"\nhelp = \"F1\"\nbogus = \"x\"").unwrap();
    let (keymap, problems) = Keymap::with_overrides(&overrides);
    let mut opts = options(false, true);
    opts.keymap = keymap;
    opts.keymap_problems = problems;
    let mut app = App::new(opts, (120, 40));
    let (text, _) = screen(&app, 120, 40);
    assert!(text.contains("bogus"), "bad bindings are reported: {text}");
    app.update(data(Response::Connected {
        backend: Backend::Sqlite,
        url: "x".into(),
        ids: Default::default(),
    }));
    app.update(data(Response::SignedIn(admin())));
    app.update(Event::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
    let (text, _) = screen(&app, 120, 40);
    assert!(text.contains("F1") && text.contains("Ctrl-q"), "{text}");
    app.update(key(KeyCode::Esc));
    app.update(ch('q'));
    assert!(!app.quit, "q was rebound");
    app.update(ctrl('q'));
    assert!(app.quit);
}

#[test]
fn no_color_keeps_the_cursor_and_marks_visible_without_colour() {
    let mut app = signed_in(admin(), false, (80, 24));
    app.options.theme = Theme { color: false };
    app.update(ch(' '));
    let (_, buf) = screen(&app, 80, 24);
    let mut reversed = 0;
    let mut bold_marked = 0;
    for cell in buf.content() {
        assert_eq!(cell.fg, Color::Reset, "no colour with NO_COLOR");
        assert_eq!(cell.bg, Color::Reset);
        if cell.modifier.contains(Modifier::REVERSED) {
            reversed += 1;
        }
        if cell.modifier.contains(Modifier::BOLD) && cell.symbol() == "●" {
            bold_marked += 1;
        }
    }
    assert!(reversed > 10, "the cursor row is in reverse video");
    assert_eq!(bold_marked, 1, "the marked row is bold with a mark");
}

mod issue_four {
    use super::*;
    use modcon::cache::CacheOutcome;
    use modcon::db::comments::{ContentEdit, ContentItem, ContentKind, EditOutcome};
    use modcon::db::lists::{ContentRow, GuildMemberRow, GuildRow, GuildSettingRow, UserRow};
    use modcon::db::plan::ContentPolicy;

    fn content_rows() -> Vec<ContentRow> {
        let row = |n: u128, kind, author: Option<&str>, rating, text: &str| ContentRow {
            kind,
            id: id(n),
            book_id: Some(id(300)),
            book_title: "The Long Afternoon".into(),
            author_id: author.map(|_| id(400 + n)),
            author_name: author.map(str::to_string),
            rating,
            excerpt: text.into(),
            length: text.chars().count() as i64,
            version: Some(1),
            created_at: at(10),
            updated_at: at(40 - n as u32),
        };
        vec![
            row(
                1,
                ContentKind::Comment,
                Some("alice"),
                None,
                "first line\nsecond line",
            ),
            row(
                2,
                ContentKind::Review,
                Some("bob"),
                Some(2),
                "meh \x1b[31mred",
            ),
            row(
                3,
                ContentKind::Comment,
                None,
                None,
                "by someone since deleted",
            ),
            row(4, ContentKind::Review, Some("carol"), Some(5), "wonderful"),
        ]
    }

    fn item(version: i64, text: &str) -> ContentItem {
        ContentItem {
            kind: ContentKind::Comment,
            id: id(1),
            book_id: Some(id(300)),
            book_title: "The Long Afternoon".into(),
            author_id: Some(id(401)),
            author_name: Some("alice".into()),
            rating: None,
            content: text.into(),
            version,
            updated_at: at(5),
        }
    }

    fn load(app: &mut App, requests: &[Request], slot: Slot, data: PageData) {
        let seq = requests
            .iter()
            .find_map(|r| match r {
                Request::Load { slot: s, seq, .. } if *s == slot => Some(*seq),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a {slot:?} load in {requests:?}"));
        app.update(super::data(Response::Page {
            slot,
            seq,
            result: Ok(data),
        }));
    }

    fn plan_groups(requests: &[Request]) -> (u64, Vec<(OpKind, Vec<Id>)>) {
        requests
            .iter()
            .find_map(|r| match r {
                Request::Plan { seq, groups, .. } => Some((
                    *seq,
                    groups.iter().map(|g| (g.kind, g.ids.clone())).collect(),
                )),
                _ => None,
            })
            .expect("a plan request")
    }

    /// The content policy the last plan request asks for.
    fn planned_policy(requests: &[Request]) -> Option<ContentPolicy> {
        requests.iter().find_map(|r| match r {
            Request::Plan { groups, .. } => groups.first().map(|g| g.content),
            _ => None,
        })
    }

    fn comments_app(actor: Actor) -> App {
        let mut app = signed_in(actor, false, (120, 40));
        let requests = app.update(ch('3'));
        load(
            &mut app,
            &requests,
            Slot::Content,
            PageData::Content(Page {
                rows: content_rows(),
                next: None,
            }),
        );
        app
    }

    #[test]
    fn the_comments_pane_lists_both_kinds_and_deletes_a_mixed_selection() {
        let mut app = comments_app(admin());
        let (text, _) = screen(&app, 120, 40);
        assert_harmless(&text);
        assert!(
            text.contains("deleted user") && text.contains("★★☆☆☆"),
            "{text}"
        );
        insta::assert_snapshot!("comments_120x40", text);
        insta::assert_snapshot!("comments_80x24", screen(&app, 80, 24).0);
        app.update(ch(' '));
        app.update(ch(' '));
        let (_, groups) = plan_groups(&app.update(ch('d')));
        assert_eq!(
            groups,
            vec![
                (OpKind::DeleteComments, vec![id(1)]),
                (OpKind::DeleteReviews, vec![id(2)])
            ]
        );
    }

    #[test]
    fn an_inline_edit_keeps_line_breaks_and_a_conflict_shows_both_texts() {
        let mut app = comments_app(Actor {
            id: id(5),
            username: "mod".into(),
            role: Role::Moderator,
        });
        let requests = app.update(ch('e'));
        let Some(Request::Detail { seq, .. }) = requests.first() else {
            panic!("{requests:?}")
        };
        app.update(super::data(Response::Detail {
            seq: *seq,
            result: Ok(modcon::tui::worker::DetailData::Content(item(
                1,
                "first line\nsecond line",
            ))),
        }));
        assert!(matches!(app.popup, Some(Popup::Editor(_))));
        app.update(Event::Key(KeyEvent::new(
            KeyCode::Char('j'),
            KeyModifiers::CONTROL,
        )));
        typed(&mut app, "third line");
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("1 first line")
                && text.contains("2 second line")
                && text.contains("3 third line"),
            "each line numbered on its own row:\n{text}"
        );
        insta::assert_snapshot!("editor_120x40", text);
        insta::assert_snapshot!("editor_80x24", screen(&app, 80, 24).0);
        let requests = app.update(key(KeyCode::Enter));
        let Some(Request::Edit { seq, edit }) = requests.first() else {
            panic!("{requests:?}")
        };
        assert_eq!(edit.text, "first line\nsecond line\nthird line");
        assert_eq!(edit.expected_version, 1);
        // Someone else saved first.
        app.update(super::data(Response::Edited {
            seq: *seq,
            edit: edit.clone(),
            result: Ok(EditOutcome::Conflict {
                current: item(2, "their text"),
                yours: edit.text.clone(),
            }),
        }));
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("their text")
                && text.contains("third line")
                && text.contains("Nothing was overwritten"),
            "{text}"
        );
        insta::assert_snapshot!("conflict_120x40", text);
        insta::assert_snapshot!("conflict_80x24", screen(&app, 80, 24).0);
        // Overwrite knowingly: saved against the version now stored.
        app.update(key(KeyCode::Tab));
        let requests = app.update(key(KeyCode::Enter));
        let Some(Request::Edit { seq, edit }) = requests.first() else {
            panic!("{requests:?}")
        };
        assert_eq!(
            (edit.expected_version, edit.text.as_str()),
            (2, "first line\nsecond line\nthird line")
        );
        app.update(super::data(Response::Edited {
            seq: *seq,
            edit: edit.clone(),
            result: Ok(EditOutcome::Saved {
                version: 3,
                batch_id: Uuid::nil(),
            }),
        }));
        assert!(app.popup.is_none());
        assert!(
            screen(&app, 120, 40)
                .0
                .contains("saved the comment (now version 3)")
        );
    }

    #[test]
    fn esc_in_the_editor_or_a_conflict_loses_nothing() {
        let mut app = comments_app(admin());
        let requests = app.update(ch('e'));
        let Some(Request::Detail { seq, .. }) = requests.first() else {
            panic!()
        };
        app.update(super::data(Response::Detail {
            seq: *seq,
            result: Ok(modcon::tui::worker::DetailData::Content(item(1, "x"))),
        }));
        assert!(
            app.update(key(KeyCode::Esc)).is_empty(),
            "cancelling saves nothing"
        );
        assert!(app.popup.is_none());
        // Esc on a conflict goes back to editing the operator's own text.
        let requests = app.update(ch('e'));
        let Some(Request::Detail { seq, .. }) = requests.first() else {
            panic!()
        };
        app.update(super::data(Response::Detail {
            seq: *seq,
            result: Ok(modcon::tui::worker::DetailData::Content(item(1, "x"))),
        }));
        typed(&mut app, "y");
        let Some(Request::Edit { seq, edit }) = app.update(key(KeyCode::Enter)).into_iter().next()
        else {
            panic!()
        };
        app.update(super::data(Response::Edited {
            seq,
            edit: edit.clone(),
            result: Ok(EditOutcome::Conflict {
                current: item(2, "theirs"),
                yours: edit.text.clone(),
            }),
        }));
        app.update(key(KeyCode::Esc));
        let Some(Popup::Editor(editor)) = &app.popup else {
            panic!("back in the editor")
        };
        assert_eq!(editor.text(), "xy");
        assert_eq!(
            editor.item.version, 2,
            "now editing against the stored version"
        );
        let _: Option<ContentEdit> = None;
    }

    fn guild(n: u128, name: &str) -> GuildRow {
        GuildRow {
            id: id(n),
            name: name.into(),
            owner_id: Some(id(900)),
            owner_name: Some("alice".into()),
            members: 12,
            chat_sessions: 4,
            messages: 87,
            settings: 3,
            created_at: at(n as u32),
        }
    }

    #[test]
    fn guilds_show_members_and_settings_and_a_delete_needs_the_name_typed() {
        let mut app = signed_in(admin(), false, (120, 40));
        let requests = app.update(ch('4'));
        let rows = vec![guild(1, "Book Lovers"), guild(2, "\u{202e}sdliuG kcaH")];
        load(
            &mut app,
            &requests,
            Slot::Guilds,
            PageData::Guilds(Page { rows, next: None }),
        );
        let (text, _) = screen(&app, 120, 40);
        assert_harmless(&text);
        insta::assert_snapshot!("guilds_120x40", text);
        insta::assert_snapshot!("guilds_80x24", screen(&app, 80, 24).0);
        let requests = app.update(key(KeyCode::Enter));
        let members = vec![GuildMemberRow {
            user_id: id(900),
            username: "alice".into(),
            role: "owner".into(),
            joined_at: at(2),
        }];
        let settings = vec![GuildSettingRow {
            key: "welcome".into(),
            value: "hi \x1b[5mall".into(),
        }];
        load(
            &mut app,
            &requests,
            Slot::GuildMembers,
            PageData::GuildMembers(
                Page {
                    rows: members,
                    next: None,
                },
                settings,
            ),
        );
        let (text, _) = screen(&app, 120, 40);
        assert_harmless(&text);
        assert!(
            text.contains("welcome = hi ␛[5mall") && text.contains("owner"),
            "{text}"
        );
        insta::assert_snapshot!("guild_members_120x40", text);
        let (seq, groups) = plan_groups(&app.update(ch('d')));
        assert_eq!(groups, vec![(OpKind::DeleteGuilds, vec![id(1)])]);
        let mut plan = plan_for(&[id(1)], 87, vec![]);
        plan.request = OpRequest::new(
            Operation::new(OpKind::DeleteGuilds, TargetIds::new(vec![id(1)]).unwrap()),
            None,
        );
        plan.targets[0].label = "Book Lovers".into();
        plan.targets[0].counts = RowCounts::new()
            .with("guilds", 1)
            .with("guild_members", 12)
            .with("guild_settings", 3)
            .with("chat_sessions", 4)
            .with("chat_messages", 87)
            .with("app_sessions", 2);
        plan.counts = plan.targets[0].counts.clone();
        app.update(super::data(Response::Planned {
            seq,
            result: Ok(vec![plan]),
        }));
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("Type Book Lovers to confirm") && text.contains("login sessions"),
            "{text}"
        );
        insta::assert_snapshot!("guild_confirm_120x40", text);
        assert!(
            app.update(key(KeyCode::Enter)).is_empty(),
            "not without the name"
        );
        // A name that cannot be typed as shown asks for the count instead.
        let mut hostile = App::new(options(false, true), (120, 40));
        hostile.update(super::data(Response::Connected {
            backend: Backend::Sqlite,
            url: "x".into(),
            ids: Default::default(),
        }));
        let requests = hostile.update(super::data(Response::SignedIn(admin())));
        let _ = requests;
        let requests = hostile.update(ch('4'));
        load(
            &mut hostile,
            &requests,
            Slot::Guilds,
            PageData::Guilds(Page {
                rows: vec![guild(2, "\u{202e}sdliuG kcaH")],
                next: None,
            }),
        );
        let (seq, _) = plan_groups(&hostile.update(ch('d')));
        let mut hostile_plan = plan_for(&[id(2)], 1, vec![]);
        hostile_plan.request = OpRequest::new(
            Operation::new(OpKind::DeleteGuilds, TargetIds::new(vec![id(2)]).unwrap()),
            None,
        );
        hostile.update(super::data(Response::Planned {
            seq,
            result: Ok(vec![hostile_plan]),
        }));
        assert!(screen(&hostile, 120, 40).0.contains("Type 1 to confirm"));
        typed(&mut app, "Book Lovers");
        for _ in 0..3 {
            app.update(key(KeyCode::Tab));
        }
        let Some(Request::Execute { seq, plans, .. }) = app.update(ch('y')).into_iter().next()
        else {
            panic!("typed: confirms")
        };
        let outcome = Outcome {
            batch_id: Uuid::nil(),
            request: plans[0].request.clone(),
            done: vec![Done {
                id: id(1),
                label: "Book Lovers".into(),
                counts: plans[0].counts.clone(),
                new_owner: None,
            }],
            failed: vec![],
            counts: plans[0].counts.clone(),
            kept: RowCounts::new(),
            soft_delete: false,
        };
        app.update(super::data(Response::Executed {
            seq,
            outcomes: vec![outcome],
            cache: Some(CacheOutcome::NotCleared {
                error: "connection refused".into(),
            }),
            not_run: vec![],
            error: None,
        }));
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("the delete is committed, but the cache NOT cleared: connection refused"),
            "{text}"
        );
        insta::assert_snapshot!("guild_outcome_cache_down_120x40", text);
    }

    fn user_row(n: u128, name: &str, role: &str, protected: bool) -> UserRow {
        UserRow {
            id: id(n),
            username: name.into(),
            email: format!("{name}@example.invalid"),
            role: role.into(),
            is_protected: protected,
            is_service: false,
            is_active: true,
            is_deleted: false,
            locked_until: None,
            owned_guilds: 0,
            comments: 2,
            reviews: 1,
            messages: 5,
            chat_sessions: 3,
            created_at: at((n % 50) as u32),
        }
    }

    fn users() -> Vec<UserRow> {
        vec![
            user_row(999, "admin", "admin", false),
            user_row(2, "ad\u{200b}min", "user", false),
            user_row(3, "owner-account", "admin", true),
            user_row(4, "spammer", "user", false),
        ]
    }

    #[test]
    fn a_bulk_user_delete_chooses_the_content_policy_needs_the_count_and_reports_each_failure() {
        let mut app = signed_in(admin(), false, (120, 40));
        let requests = app.update(ch('5'));
        load(
            &mut app,
            &requests,
            Slot::Users,
            PageData::Users(Page {
                rows: users(),
                next: None,
            }),
        );
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("ad�min"),
            "a look-alike name does not pass for admin:\n{text}"
        );
        assert!(text.contains("protected"));
        insta::assert_snapshot!("users_120x40", text);
        insta::assert_snapshot!("users_80x24", screen(&app, 80, 24).0);
        for _ in 0..4 {
            app.update(ch(' '));
        }
        let requests = app.update(ch('d'));
        let (seq, groups) = plan_groups(&requests);
        assert_eq!(groups[0].0, OpKind::DeleteUsers);
        assert_eq!(planned_policy(&requests), Some(ContentPolicy::Keep));
        let ids = groups[0].1.clone();
        let refused = vec![
            Refusal {
                id: id(999),
                label: Some("admin".into()),
                reason: FailReason::Yourself,
            },
            Refusal {
                id: id(3),
                label: Some("owner-account".into()),
                reason: FailReason::Protected,
            },
        ];
        let mut plan = plan_for(&[id(2), id(4)], 0, refused.clone());
        plan.request = OpRequest::new(
            Operation::delete_users(TargetIds::new(ids).unwrap(), ContentPolicy::Keep),
            None,
        );
        plan.kept = RowCounts::new().with("comments", 4).with("messages", 10);
        app.update(super::data(Response::Planned {
            seq,
            result: Ok(vec![plan.clone()]),
        }));
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("Type 2 to confirm")
                && text.contains("(•) keep")
                && text.contains("cannot delete your own account"),
            "{text}"
        );
        insta::assert_snapshot!("user_confirm_120x40", text);
        insta::assert_snapshot!("user_confirm_80x24", screen(&app, 80, 24).0);
        // Choosing "delete their content" plans again.
        app.update(key(KeyCode::Tab));
        app.update(key(KeyCode::Tab));
        let requests = app.update(ch(' '));
        let (seq, groups) = plan_groups(&requests);
        assert_eq!(groups[0].0, OpKind::DeleteUsers);
        assert_eq!(planned_policy(&requests), Some(ContentPolicy::Delete));
        app.update(super::data(Response::Planned {
            seq,
            result: Ok(vec![plan.clone()]),
        }));
        app.update(key(KeyCode::BackTab));
        app.update(key(KeyCode::BackTab));
        typed(&mut app, "2");
        for _ in 0..4 {
            app.update(key(KeyCode::Tab));
        }
        let Some(Request::Execute { seq, plans, .. }) = app.update(ch('y')).into_iter().next()
        else {
            panic!("confirms")
        };
        let outcome = Outcome {
            batch_id: Uuid::nil(),
            request: plans[0].request.clone(),
            done: vec![Done {
                id: id(4),
                label: "spammer".into(),
                counts: RowCounts::new().with("users", 1),
                new_owner: None,
            }],
            failed: vec![
                refused[0].clone(),
                refused[1].clone(),
                Refusal {
                    id: id(2),
                    label: Some("ad\u{200b}min".into()),
                    reason: FailReason::LastActiveAdmin,
                },
            ],
            counts: RowCounts::new().with("users", 1),
            kept: RowCounts::new(),
            soft_delete: false,
        };
        app.update(super::data(Response::Executed {
            seq,
            outcomes: vec![outcome],
            cache: None,
            not_run: vec![],
            error: None,
        }));
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("Refused (3)")
                && text.contains("protected account")
                && text.contains("last active admin"),
            "{text}"
        );
        insta::assert_snapshot!("user_outcome_120x40", text);
    }

    #[test]
    fn moderators_see_the_users_pane_read_only() {
        let mut app = signed_in(
            Actor {
                id: id(5),
                username: "mod".into(),
                role: Role::Moderator,
            },
            false,
            (120, 40),
        );
        let requests = app.update(ch('5'));
        load(
            &mut app,
            &requests,
            Slot::Users,
            PageData::Users(Page {
                rows: users(),
                next: None,
            }),
        );
        let (text, _) = screen(&app, 120, 40);
        assert!(!text.contains("d delete"), "{text}");
        assert!(groups_absent(&app.update(ch('d'))));
        assert!(
            screen(&app, 120, 40)
                .0
                .contains("deleting users is not allowed for the moderator role")
        );
        let requests = app.update(ch('4'));
        load(
            &mut app,
            &requests,
            Slot::Guilds,
            PageData::Guilds(Page {
                rows: vec![guild(1, "G")],
                next: None,
            }),
        );
        assert!(groups_absent(&app.update(ch('d'))));
    }

    fn groups_absent(requests: &[Request]) -> bool {
        !requests.iter().any(|r| matches!(r, Request::Plan { .. }))
    }
}

/// What a new user ran into on the demo and on a large database.
mod in_daily_use {
    use super::*;
    use modcon::db::chats::ChatMessageDetail;
    use modcon::db::comments::{ContentItem, ContentKind};
    use modcon::db::lists::{ChatMessageRow, ContentRow, UserRow};
    use modcon::tui::app::Level;
    use modcon::tui::popup::Focus;
    use modcon::tui::worker::{DetailData, RowKey};

    fn load_seq(requests: &[Request], slot: Slot) -> u64 {
        requests
            .iter()
            .find_map(|r| match r {
                Request::Load { slot: s, seq, .. } if *s == slot => Some(*seq),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a {slot:?} load in {requests:?}"))
    }

    fn detail_seq(requests: &[Request]) -> u64 {
        requests
            .iter()
            .find_map(|r| match r {
                Request::Detail { seq, .. } => Some(*seq),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a detail request in {requests:?}"))
    }

    fn ids_seq(requests: &[Request]) -> u64 {
        requests
            .iter()
            .find_map(|r| match r {
                Request::Ids { seq, .. } => Some(*seq),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a mark-all request in {requests:?}"))
    }

    fn command(app: &mut App, text: &str) -> Vec<Request> {
        app.update(ch(':'));
        typed(app, text);
        app.update(key(KeyCode::Enter))
    }

    fn filter(app: &mut App, text: &str) -> Vec<Request> {
        app.update(ch('/'));
        typed(app, text);
        app.update(key(KeyCode::Enter))
    }

    fn chat_row(n: u128, author: Option<&str>, role: &str, text: &str) -> ChatMessageRow {
        ChatMessageRow {
            id: id(n),
            session_id: id(1),
            author_id: author.map(|_| id(400 + n)),
            author_name: author.map(str::to_string),
            role: role.into(),
            excerpt: text.into(),
            length: text.chars().count() as i64,
            created_at: at(n as u32 % 50),
        }
    }

    fn chat_detail(n: u128, author: Option<&str>, role: &str, text: &str) -> DetailData {
        DetailData::ChatMessage(ChatMessageDetail {
            id: id(n),
            session_id: id(1),
            author_name: author.map(str::to_string),
            role: role.into(),
            content: text.into(),
            created_at: at(1),
        })
    }

    fn open_session(app: &mut App, rows: Vec<ChatMessageRow>) {
        let requests = app.update(key(KeyCode::Enter));
        let seq = load_seq(&requests, Slot::SessionMessages);
        app.update(data(Response::Page {
            slot: Slot::SessionMessages,
            seq,
            result: Ok(PageData::SessionMessages(Page { rows, next: None })),
        }));
    }

    fn mark_all(app: &mut App, keys: std::ops::Range<u128>) {
        let seq = ids_seq(&app.update(ctrl('a')));
        app.update(data(Response::Ids {
            seq,
            result: Ok(keys
                .map(|n| RowKey {
                    id: id(n),
                    kind: None,
                })
                .collect()),
        }));
    }

    fn user(n: u128, name: &str) -> UserRow {
        UserRow {
            id: id(n),
            username: name.into(),
            email: format!("{name}@example.invalid"),
            role: "user".into(),
            is_protected: false,
            is_service: false,
            is_active: true,
            is_deleted: false,
            locked_until: None,
            owned_guilds: 0,
            comments: 1,
            reviews: 0,
            messages: 0,
            chat_sessions: 1,
            created_at: at(1),
        }
    }

    fn comment(text: &str) -> ContentItem {
        ContentItem {
            kind: ContentKind::Comment,
            id: id(1),
            book_id: Some(id(300)),
            book_title: "The Long Afternoon".into(),
            author_id: Some(id(401)),
            author_name: Some("alice".into()),
            rating: None,
            content: text.into(),
            version: 1,
            updated_at: at(5),
        }
    }

    fn comments_tab(text: &str) -> App {
        let mut app = signed_in(admin(), false, (80, 24));
        let requests = app.update(ch('3'));
        let row = ContentRow {
            kind: ContentKind::Comment,
            id: id(1),
            book_id: Some(id(300)),
            book_title: "The Long Afternoon".into(),
            author_id: Some(id(401)),
            author_name: Some("alice".into()),
            rating: None,
            excerpt: text.chars().take(80).collect(),
            length: text.chars().count() as i64,
            version: Some(1),
            created_at: at(1),
            updated_at: at(2),
        };
        app.update(data(Response::Page {
            slot: Slot::Content,
            seq: load_seq(&requests, Slot::Content),
            result: Ok(PageData::Content(Page {
                rows: vec![row],
                next: None,
            })),
        }));
        app
    }

    fn open_editor(text: &str) -> App {
        let mut app = comments_tab(text);
        let seq = detail_seq(&app.update(ch('e')));
        app.update(data(Response::Detail {
            seq,
            result: Ok(DetailData::Content(comment(text))),
        }));
        assert!(matches!(app.popup, Some(Popup::Editor(_))));
        app
    }

    fn shown(app: &App) -> String {
        screen(app, 80, 24).0
    }

    #[test]
    fn the_documented_commands_switch_to_their_tab_and_filter_it() {
        let mut app = signed_in(admin(), false, (120, 40));
        let content_kind = |requests: &[Request]| {
            requests.iter().find_map(|r| match r {
                Request::Load {
                    query: Query::Content { filter, .. },
                    ..
                } => Some(filter.kind),
                _ => None,
            })
        };
        let user_role = |requests: &[Request]| {
            requests.iter().find_map(|r| match r {
                Request::Load {
                    query: Query::Users { filter, .. },
                    ..
                } => Some(filter.role),
                _ => None,
            })
        };
        let cases = [
            (
                "comments",
                Tab::Comments,
                Some(Some(ContentKind::Comment)),
                None,
            ),
            (
                "reviews",
                Tab::Comments,
                Some(Some(ContentKind::Review)),
                None,
            ),
            ("all", Tab::Comments, Some(None), None),
            ("admins", Tab::Users, None, Some(Some(Role::Admin))),
            ("moderators", Tab::Users, None, Some(Some(Role::Moderator))),
            ("users", Tab::Users, None, Some(Some(Role::User))),
            ("all", Tab::Users, None, Some(None)),
        ];
        for (name, tab, kind, role) in cases {
            let requests = command(&mut app, name);
            assert_eq!(app.tab, tab, ":{name}");
            assert!(
                app.status.as_ref().is_none_or(|(_, l)| *l != Level::Error),
                ":{name}: {:?}",
                app.status
            );
            if kind.is_some() {
                assert_eq!(content_kind(&requests), kind, ":{name}: {requests:?}");
            }
            if role.is_some() {
                assert_eq!(user_role(&requests), role, ":{name}: {requests:?}");
            }
        }
        app.update(ch('?'));
        let Some(Popup::Text(help)) = &app.popup else {
            panic!("help is open")
        };
        let text: String = help.lines.iter().map(|(l, _)| format!("{l}\n")).collect();
        for documented in [
            ":help",
            ":quit",
            ":comments",
            ":reviews",
            ":all",
            ":admins",
            ":moderators",
            ":users",
        ] {
            assert!(text.contains(documented), "{documented} in help:\n{text}");
        }
    }

    /// Scrolling a long text: `G`/`End` reach its last row, `g`/`Home` its first, PgUp/PgDn
    /// move a page, and nothing scrolls past the end.
    fn assert_scrolls_to_the_end(app: &mut App, top: &str, end: &str) {
        let first = shown(app);
        assert!(first.contains(top) && !first.contains(end), "{first}");
        for bottom in [ch('G'), key(KeyCode::End)] {
            app.update(ch('g'));
            app.update(bottom);
            let at_end = shown(app);
            assert!(
                at_end.contains(end) && !at_end.contains(top),
                "the end:\n{at_end}"
            );
            for _ in 0..5 {
                app.update(ch('j'));
            }
            app.update(key(KeyCode::PageDown));
            assert_eq!(shown(app), at_end, "no scrolling past the end");
        }
        app.update(key(KeyCode::Home));
        assert_eq!(shown(app), first);
        app.update(key(KeyCode::PageDown));
        let page = shown(app);
        assert!(!page.contains(top) && !page.contains(end), "{page}");
        app.update(key(KeyCode::PageUp));
        assert_eq!(shown(app), first);
    }

    #[test]
    fn detail_views_scroll_to_the_real_end_of_long_text_and_no_further() {
        let mut app = signed_in(admin(), false, (80, 24));
        open_session(
            &mut app,
            vec![chat_row(500, Some("alice"), "user", "hello")],
        );
        let seq = detail_seq(&app.update(key(KeyCode::Enter)));
        let long = format!("{}THE-END", "lorem ipsum dolor ".repeat(1_111));
        app.update(data(Response::Detail {
            seq,
            result: Ok(chat_detail(500, Some("alice"), "user", &long)),
        }));
        assert_scrolls_to_the_end(&mut app, "author", "THE-END");
        app.update(ch('G'));
        insta::assert_snapshot!("long_message_at_its_end_80x24", shown(&app));
        app.update(key(KeyCode::Esc));
        assert!(app.popup.is_none());

        let requests = app.update(ch('6'));
        let entry = AuditEntry {
            id: 42,
            at: at(3),
            batch_id: Uuid::nil(),
            actor_id: Some(id(999).to_string()),
            actor_name: "mod".into(),
            action: "comment.edit".into(),
            target_type: "comment".into(),
            target_id: Some(id(700).to_string()),
            target_label: "alice on «The Book»".into(),
            counts: serde_json::json!({"comments": 1}),
            reason: None,
            details: serde_json::json!({
                "old_text": format!("{}OLD-END", "was ".repeat(2_000)),
                "new_text": format!("{}NEW-END", "now ".repeat(2_000)),
            }),
        };
        app.update(data(Response::Page {
            slot: Slot::Audit,
            seq: load_seq(&requests, Slot::Audit),
            result: Ok(PageData::Audit(Page {
                rows: vec![entry],
                next: None,
            })),
        }));
        app.update(key(KeyCode::Enter));
        assert_scrolls_to_the_end(&mut app, "actor", "NEW-END");
    }

    #[test]
    fn the_editor_keeps_the_cursor_on_long_text_in_view() {
        let long = format!("{}LAST-WORDS", "lorem ipsum ".repeat(740));
        let app = open_editor(&long);
        let (text, buf) = screen(&app, 80, 24);
        assert!(
            text.contains("LAST-WORDS"),
            "the cursor's end of the text:\n{text}"
        );
        let (y, line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("LAST-WORDS"))
            .unwrap();
        let x = line[..line.find("LAST-WORDS").unwrap()].chars().count() + "LAST-WORDS".len();
        assert!(
            buf[(x as u16, y as u16)]
                .modifier
                .contains(Modifier::REVERSED),
            "the cursor is drawn right after the last word"
        );
        insta::assert_snapshot!("editor_long_text_80x24", text);
    }

    #[test]
    fn the_editor_shows_hostile_text_harmlessly_and_gives_it_back_unchanged() {
        let hostile = "line one\r\nad\u{200b}min \u{202e}evil \x1b]0;pwned\x07\n";
        let mut app = open_editor(hostile);
        let text = shown(&app);
        assert_harmless(&text);
        assert!(
            text.contains("ad�min") && text.contains("�evil ␛]0;pwned␇"),
            "what hides is shown, as in the lists:\n{text}"
        );
        insta::assert_snapshot!("editor_hostile_80x24", text);
        let Some(Request::Edit { edit, .. }) = app.update(key(KeyCode::Enter)).into_iter().next()
        else {
            panic!("Enter saves")
        };
        assert_eq!(edit.text, hostile, "saved exactly as loaded");
    }

    #[test]
    fn up_and_down_in_the_editor_move_by_line() {
        let mut app = open_editor("first line\nsecond line\nthird");
        shown(&app);
        app.update(key(KeyCode::Up));
        typed(&mut app, "X");
        app.update(key(KeyCode::Down));
        typed(&mut app, "Y");
        let requests = app.update(key(KeyCode::Enter));
        let Some(Request::Edit { edit, .. }) = requests.first() else {
            panic!("{requests:?}")
        };
        assert_eq!(edit.text, "first line\nseconXd line\nthirdY");
    }

    #[test]
    fn esc_on_an_edited_text_asks_before_discarding_it() {
        let mut app = open_editor("the original");
        typed(&mut app, " and more");
        assert!(app.update(key(KeyCode::Esc)).is_empty());
        assert!(matches!(app.popup, Some(Popup::Editor(_))), "still editing");
        assert!(
            shown(&app).contains("Discard your changes?"),
            "{}",
            shown(&app)
        );
        insta::assert_snapshot!("editor_discard_80x24", shown(&app));
        // The first choice keeps editing.
        app.update(key(KeyCode::Enter));
        assert!(!shown(&app).contains("Discard your changes?"));
        typed(&mut app, "!");
        app.update(key(KeyCode::Esc));
        app.update(ch('n'));
        assert!(!shown(&app).contains("Discard your changes?"));
        let Some(Request::Edit { edit, .. }) = app.update(key(KeyCode::Enter)).into_iter().next()
        else {
            panic!("Enter saves after keeping the edit")
        };
        assert_eq!(edit.text, "the original and more!");

        let mut app = open_editor("the original");
        typed(&mut app, "!");
        app.update(key(KeyCode::Esc));
        app.update(key(KeyCode::Tab));
        assert!(app.update(key(KeyCode::Enter)).is_empty(), "nothing saved");
        assert!(app.popup.is_none(), "discarded on request");
    }

    #[test]
    fn marks_count_as_hidden_only_under_a_filter_that_is_set() {
        let mut app = signed_in(admin(), false, (120, 40));
        // Marked with no filter: most of them simply not loaded yet.
        mark_all(&mut app, 100..125);
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan_for(&ids, 1, vec![])]),
        }));
        let text = screen(&app, 120, 40).0;
        assert!(!text.contains("not in the list"), "{text}");
        app.update(key(KeyCode::Esc));
        // A filter set afterwards hides them.
        let requests = filter(&mut app, "travel");
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq: load_seq(&requests, Slot::Chats),
            result: Ok(PageData::ChatSessions(Page {
                rows: vec![sessions().remove(0)],
                next: None,
            })),
        }));
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan_for(&ids, 1, vec![])]),
        }));
        let text = screen(&app, 120, 40).0;
        assert!(
            text.contains("25 of the marked rows are not in the list as it is filtered now"),
            "{text}"
        );

        // Marked under the filter in force: matching rows not loaded yet are not hidden.
        let mut app = signed_in(admin(), false, (120, 40));
        let requests = filter(&mut app, "travel");
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq: load_seq(&requests, Slot::Chats),
            result: Ok(PageData::ChatSessions(Page {
                rows: vec![sessions().remove(0)],
                next: Some(SortCursor::from(TimeCursor {
                    at: at(1),
                    id: id(1),
                })),
            })),
        }));
        mark_all(&mut app, 100..125);
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan_for(&ids, 1, vec![])]),
        }));
        let text = screen(&app, 120, 40).0;
        assert!(!text.contains("not in the list"), "{text}");
    }

    #[test]
    fn user_replaces_orphans_and_stays_on_the_tab_it_was_asked_from() {
        let mut app = signed_in(admin(), false, (120, 40));
        command(&mut app, "orphans");
        let requests = command(&mut app, "user bob");
        let Some(Request::FindUser { seq, name }) = requests.first() else {
            panic!("{requests:?}")
        };
        let requests = app.update(data(Response::User {
            seq: *seq,
            name: name.clone(),
            result: Ok(Some(user(7, "bob"))),
        }));
        let filter = requests
            .iter()
            .find_map(|r| match r {
                Request::Load {
                    query: Query::ChatSessions { filter, .. },
                    ..
                } => Some(filter.clone()),
                _ => None,
            })
            .expect("the sessions reload");
        assert_eq!(filter.owner_id, Some(id(7)));
        assert!(!filter.orphans_only, "one scope at a time: {filter:?}");
        let title = app.pane().title();
        assert!(
            title.contains("owner bob") && !title.contains("orphaned"),
            "{title}"
        );

        app.update(ch('3'));
        let requests = command(&mut app, "user bob");
        let Some(Request::FindUser { seq, name }) = requests.first() else {
            panic!("{requests:?}")
        };
        let requests = app.update(data(Response::User {
            seq: *seq,
            name: name.clone(),
            result: Ok(Some(user(7, "bob"))),
        }));
        assert_eq!(app.tab, Tab::Comments, "stays on Comments");
        assert!(
            requests.iter().any(|r| matches!(r, Request::Load { query: Query::Content { filter, .. }, .. } if filter.user_id == Some(id(7)))),
            "{requests:?}"
        );
        assert!(app.pane().title().contains("bob"));
    }

    #[test]
    fn esc_cancels_a_mark_all_that_is_still_running() {
        let mut app = signed_in(admin(), false, (120, 40));
        let requests = app.update(ctrl('a'));
        let Some(Request::Ids { seq, stop, .. }) = requests.into_iter().next() else {
            panic!("Ctrl-a asks for every matching row")
        };
        app.update(key(KeyCode::Esc));
        assert!(
            stop.load(std::sync::atomic::Ordering::SeqCst),
            "the worker stops paging"
        );
        assert!(!app.busy(), "nothing is pending any more");
        assert!(screen(&app, 120, 40).0.contains("stopped marking"));
        app.update(data(Response::Ids {
            seq,
            result: Ok((100..125)
                .map(|n| RowKey {
                    id: id(n),
                    kind: None,
                })
                .collect()),
        }));
        assert_eq!(app.chats.marks.len(), 0, "the late answer marks nothing");
    }

    #[test]
    fn a_sessions_header_follows_its_message_count_after_a_delete_and_a_refresh() {
        let mut app = signed_in(admin(), false, (120, 40));
        open_session(
            &mut app,
            vec![
                chat_row(500, Some("alice"), "user", "hello"),
                chat_row(501, None, "assistant", "hi"),
            ],
        );
        assert!(app.pane().title().contains("(12 messages)"));
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan_for(&ids, 0, vec![])]),
        }));
        let Some(Request::Execute { seq, plans, .. }) = app.update(ch('y')).into_iter().next()
        else {
            panic!("confirms")
        };
        let outcome = Outcome {
            batch_id: Uuid::nil(),
            request: plans[0].request.clone(),
            done: vec![Done {
                id: id(500),
                label: "alice: hello".into(),
                counts: RowCounts::new().with("chat_messages", 1),
                new_owner: None,
            }],
            failed: vec![],
            counts: RowCounts::new().with("chat_messages", 1),
            kept: RowCounts::new(),
            soft_delete: false,
        };
        let requests = app.update(data(Response::Executed {
            seq,
            outcomes: vec![outcome],
            cache: None,
            not_run: vec![],
            error: None,
        }));
        app.update(key(KeyCode::Enter));
        let answer_session = |app: &mut App, requests: &[Request], messages: i64| {
            let (slot, seq) = requests
                .iter()
                .find_map(|r| match r {
                    Request::Load {
                        slot,
                        seq,
                        query: Query::ChatSessions { filter, .. },
                    } if filter.id == Some(id(1)) => Some((*slot, *seq)),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("the open session is asked for again: {requests:?}"));
            app.update(data(Response::Page {
                slot,
                seq,
                result: Ok(PageData::ChatSessions(Page {
                    rows: vec![session(1, "travel plans #1", Some("alice"), messages)],
                    next: None,
                })),
            }));
        };
        answer_session(&mut app, &requests, 11);
        assert!(
            app.pane().title().contains("(11 messages)"),
            "{}",
            app.pane().title()
        );
        let requests = app.update(ch('R'));
        answer_session(&mut app, &requests, 1);
        assert!(
            app.pane().title().contains("(1 message)"),
            "{}",
            app.pane().title()
        );
    }

    #[test]
    fn a_message_without_author_is_labelled_by_its_role_unless_a_user_wrote_it() {
        let mut app = signed_in(admin(), false, (120, 40));
        open_session(
            &mut app,
            vec![
                chat_row(501, None, "assistant", "beep boop"),
                chat_row(502, None, "user", "gone"),
            ],
        );
        let seq = detail_seq(&app.update(key(KeyCode::Enter)));
        app.update(data(Response::Detail {
            seq,
            result: Ok(chat_detail(501, None, "assistant", "beep boop")),
        }));
        let text = screen(&app, 120, 40).0;
        assert!(
            text.contains("author     assistant") && !text.contains("deleted user"),
            "{text}"
        );
        app.update(key(KeyCode::Esc));
        app.update(ch('j'));
        let seq = detail_seq(&app.update(key(KeyCode::Enter)));
        app.update(data(Response::Detail {
            seq,
            result: Ok(chat_detail(502, None, "user", "gone")),
        }));
        assert!(screen(&app, 120, 40).0.contains("author     deleted user"));
        app.update(key(KeyCode::Esc));
        app.update(ch('k'));
        // The confirmation names the assistant too.
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        let mut plan = plan_for(&ids, 0, vec![]);
        plan.targets[0].label = "deleted user: beep boop".into();
        plan.targets[0].snapshot = serde_json::json!({
            "author": null, "role": "assistant", "content": "beep boop"
        });
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan]),
        }));
        let text = screen(&app, 120, 40).0;
        assert!(
            text.contains("assistant: beep boop") && !text.contains("deleted user"),
            "{text}"
        );
        // And so does the outcome.
        let Some(Request::Execute { seq, plans, .. }) = app.update(ch('y')).into_iter().next()
        else {
            panic!("confirms")
        };
        let outcome = Outcome {
            batch_id: Uuid::nil(),
            request: plans[0].request.clone(),
            done: vec![Done {
                id: id(501),
                label: "deleted user: beep boop".into(),
                counts: RowCounts::new().with("chat_messages", 1),
                new_owner: None,
            }],
            failed: vec![],
            counts: RowCounts::new().with("chat_messages", 1),
            kept: RowCounts::new(),
            soft_delete: false,
        };
        app.update(data(Response::Executed {
            seq,
            outcomes: vec![outcome],
            cache: None,
            not_run: vec![],
            error: None,
        }));
        let text = screen(&app, 120, 40).0;
        assert!(
            text.contains("assistant: beep boop") && !text.contains("deleted user"),
            "{text}"
        );
    }

    #[test]
    fn the_delete_popup_scrolls_to_its_end_and_no_further() {
        let mut app = signed_in(admin(), false, (80, 24));
        mark_all(&mut app, 100..115);
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan_for(&ids, 2, vec![])]),
        }));
        let top = shown(&app);
        assert!(
            top.contains("This removes") && !top.contains("session 14 — alice"),
            "{top}"
        );
        for bottom in [key(KeyCode::End), ch('G'), key(KeyCode::PageDown)] {
            app.update(ch('g'));
            app.update(bottom);
            assert!(
                shown(&app).contains("session 14 — alice"),
                "{}",
                shown(&app)
            );
        }
        let at_end = shown(&app);
        for _ in 0..30 {
            app.update(ch('j'));
        }
        assert_eq!(shown(&app), at_end, "no scrolling past the end");
        app.update(key(KeyCode::PageUp));
        app.update(key(KeyCode::PageUp));
        assert_eq!(shown(&app), top);
    }

    #[test]
    fn a_typed_confirmation_starts_on_the_field_to_type_in() {
        let mut app = signed_in(admin(), false, (120, 40));
        mark_all(&mut app, 100..125);
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan_for(&ids, 2, vec![])]),
        }));
        let focus = |app: &App| match &app.popup {
            Some(Popup::Confirm(c)) => (c.focus, c.typed.value().to_string()),
            _ => panic!("the confirmation is open"),
        };
        assert_eq!(focus(&app).0, Focus::Typed);
        // Enter on a wrong or empty count says what is expected and stays.
        assert!(app.update(key(KeyCode::Enter)).is_empty());
        typed(&mut app, "2");
        assert!(app.update(key(KeyCode::Enter)).is_empty());
        assert_eq!(focus(&app), (Focus::Typed, "2".into()));
        assert!(screen(&app, 120, 40).0.contains("type 25 to confirm"));
        typed(&mut app, "5");
        app.update(key(KeyCode::Enter));
        assert_eq!(focus(&app), (Focus::Reason, "25".into()));
        app.update(key(KeyCode::Tab));
        app.update(key(KeyCode::Tab));
        assert!(matches!(
            app.update(key(KeyCode::Enter)).first(),
            Some(Request::Execute { .. })
        ));
    }

    #[test]
    fn a_long_status_is_cut_with_an_ellipsis() {
        let mut app = signed_in(admin(), false, (80, 24));
        let seq = ids_seq(&app.update(ctrl('a')));
        app.update(data(Response::Ids {
            seq,
            result: Err(DataError::Unavailable(format!(
                "the database said {} and then stopped",
                "something long ".repeat(10)
            ))),
        }));
        let text = shown(&app);
        let status = text.lines().nth(22).unwrap();
        assert!(status.ends_with('…'), "{status}");
    }

    #[test]
    fn the_messages_hints_offer_mark_all() {
        let mut app = signed_in(admin(), false, (120, 40));
        app.update(ch('2'));
        let text = screen(&app, 120, 40).0;
        assert!(
            text.lines().last().unwrap().contains("Ctrl-a mark all"),
            "{text}"
        );
    }

    #[test]
    fn read_only_help_lists_no_destructive_key_and_q_closes_it() {
        let mut app = signed_in(admin(), true, (120, 40));
        app.update(ch('?'));
        let mut text = screen(&app, 120, 40).0;
        app.update(ch('G'));
        text.push_str(&screen(&app, 120, 40).0);
        assert!(text.contains("mark and move down"), "{text}");
        for destructive in ["delete marked rows", "edit in place", "repair orphaned"] {
            assert!(!text.contains(destructive), "{destructive}:\n{text}");
        }
        app.update(ch('q'));
        assert!(app.popup.is_none(), "q closes help");
        assert!(!app.quit, "and does not quit");
    }

    #[test]
    fn e_in_a_comments_detail_opens_the_editor() {
        let mut app = comments_tab("a comment");
        let seq = detail_seq(&app.update(key(KeyCode::Enter)));
        app.update(data(Response::Detail {
            seq,
            result: Ok(DetailData::Content(comment("a comment"))),
        }));
        assert!(matches!(app.popup, Some(Popup::Text(_))));
        assert!(shown(&app).contains("e edit"), "{}", shown(&app));
        app.update(ch('e'));
        assert!(matches!(app.popup, Some(Popup::Editor(_))));
    }

    #[test]
    fn audit_counts_are_readable_aligned_and_singular_for_one() {
        let mut app = signed_in(admin(), false, (120, 40));
        let requests = app.update(ch('6'));
        let entry = AuditEntry {
            id: 43,
            at: at(3),
            batch_id: Uuid::nil(),
            actor_id: Some(id(999).to_string()),
            actor_name: "admin".into(),
            action: "chat_session.delete.bulk".into(),
            target_type: "chat_session".into(),
            target_id: None,
            target_label: "two sessions".into(),
            counts: serde_json::json!({"chat_messages": 1234, "chat_sessions": 1, "corrections": 56}),
            reason: None,
            details: serde_json::json!({}),
        };
        app.update(data(Response::Page {
            slot: Slot::Audit,
            seq: load_seq(&requests, Slot::Audit),
            result: Ok(PageData::Audit(Page {
                rows: vec![entry],
                next: None,
            })),
        }));
        app.update(key(KeyCode::Enter));
        let text = screen(&app, 120, 40).0;
        let column = |noun: &str| {
            let line = text
                .lines()
                .find(|l| l.contains(noun))
                .unwrap_or_else(|| panic!("{noun}:\n{text}"));
            line.find(noun)
        };
        assert!(!text.contains("chat_messages"), "{text}");
        let nouns = [
            "1234  chat messages",
            "   1  chat session",
            "  56  corrections",
        ];
        let columns: Vec<_> = nouns.iter().map(|n| column(n)).collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{text}");
        assert!(!text.contains("chat sessions"), "one chat session:\n{text}");
    }

    #[test]
    fn one_is_singular_and_refusals_are_called_refused_everywhere() {
        let mut app = signed_in(admin(), false, (120, 40));
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        let refused = Refusal {
            id: id(77),
            label: None,
            reason: FailReason::NotFound,
        };
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan_for(&ids, 1, vec![refused.clone()])]),
        }));
        let text = screen(&app, 120, 40).0;
        assert!(
            text.contains("1 message") && !text.contains("1 messages"),
            "{text}"
        );
        assert!(
            text.contains("1  chat message\n") || text.contains("1  chat message "),
            "{text}"
        );
        assert!(text.contains("Refused (1)"), "{text}");
        let Some(Request::Execute { seq, plans, .. }) = app.update(ch('y')).into_iter().next()
        else {
            panic!("confirms")
        };
        let outcome = Outcome {
            batch_id: Uuid::nil(),
            request: plans[0].request.clone(),
            done: vec![Done {
                id: ids[0].clone(),
                label: "session — alice".into(),
                counts: RowCounts::new().with("chat_messages", 1),
                new_owner: None,
            }],
            failed: vec![refused],
            counts: RowCounts::new()
                .with("chat_sessions", 1)
                .with("chat_messages", 1),
            kept: RowCounts::new(),
            soft_delete: false,
        };
        app.update(data(Response::Executed {
            seq,
            outcomes: vec![outcome],
            cache: None,
            not_run: vec![],
            error: None,
        }));
        let text = screen(&app, 120, 40).0;
        assert!(
            text.contains("deleted 1 chat session (1 message), 1 refused"),
            "{text}"
        );
        assert!(
            text.contains("Refused (1)") && !text.contains("Failed"),
            "{text}"
        );
    }

    #[test]
    fn enter_before_the_database_answers_signs_in_as_soon_as_it_does() {
        let mut app = App::new(options(false, true), (80, 24));
        typed(&mut app, "admin");
        app.update(key(KeyCode::Enter));
        typed(&mut app, "admin-demo");
        assert!(app.update(key(KeyCode::Enter)).is_empty());
        let text = shown(&app);
        assert!(!text.contains("not connected"), "{text}");
        assert!(text.contains("signing in as soon as"), "{text}");
        insta::assert_snapshot!("sign_in_queued_80x24", text);
        let requests = app.update(data(Response::Connected {
            backend: Backend::Sqlite,
            url: "sqlite:demo.db".into(),
            ids: Default::default(),
        }));
        assert!(
            matches!(requests.as_slice(), [Request::SignIn { username, password, .. }] if username == "admin" && password == "admin-demo"),
            "{requests:?}"
        );
    }

    #[test]
    fn a_late_load_for_the_editor_never_replaces_the_confirmation() {
        let mut app = comments_tab("a comment");
        let edit = detail_seq(&app.update(ch('e')));
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan_for(&ids, 0, vec![])]),
        }));
        app.update(data(Response::Detail {
            seq: edit,
            result: Ok(DetailData::Content(comment("a comment"))),
        }));
        assert!(
            matches!(app.popup, Some(Popup::Confirm(_))),
            "the confirmation stays"
        );
    }

    #[test]
    fn a_late_detail_reply_never_replaces_the_confirmation_and_deletes_keep_working() {
        let mut app = signed_in(admin(), false, (120, 40));
        open_session(
            &mut app,
            vec![chat_row(500, Some("alice"), "user", "hello")],
        );
        let detail = detail_seq(&app.update(key(KeyCode::Enter)));
        let (seq, _, ids) = plan_request(&app.update(ch('d'))).unwrap();
        app.update(data(Response::Planned {
            seq,
            result: Ok(vec![plan_for(&ids, 0, vec![])]),
        }));
        app.update(data(Response::Detail {
            seq: detail,
            result: Ok(chat_detail(500, Some("alice"), "user", "hello")),
        }));
        assert!(
            matches!(app.popup, Some(Popup::Confirm(_))),
            "the confirmation stays"
        );
        app.update(ch('n'));
        assert!(
            plan_request(&app.update(ch('d'))).is_some(),
            "deleting works again"
        );
        app.update(ch('n'));
        // Asked for, then left with Esc: the answer is dropped.
        let detail = detail_seq(&app.update(key(KeyCode::Enter)));
        app.update(key(KeyCode::Esc));
        app.update(data(Response::Detail {
            seq: detail,
            result: Ok(chat_detail(500, Some("alice"), "user", "hello")),
        }));
        assert!(app.popup.is_none());
    }
}

/// Names that pass for others (UTS #39 look-alikes) are flagged in lists, details and
/// confirmations, and a guild's typed confirmation takes only its name as shown.
mod lookalikes {
    use super::*;
    use modcon::db::lists::{GuildRow, UserRow};
    use modcon::seed::ADMIN_LOOKALIKES;

    fn load(app: &mut App, requests: &[Request], slot: Slot, data: PageData) {
        let seq = requests
            .iter()
            .find_map(|r| match r {
                Request::Load { slot: s, seq, .. } if *s == slot => Some(*seq),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a {slot:?} load in {requests:?}"));
        app.update(data_event(slot, seq, data));
    }

    fn data_event(slot: Slot, seq: u64, data: PageData) -> Event {
        super::data(Response::Page {
            slot,
            seq,
            result: Ok(data),
        })
    }

    fn user(n: u128, name: &str) -> UserRow {
        UserRow {
            id: id(n),
            username: name.into(),
            email: format!("user{n}@example.invalid"),
            role: if n == 1 { "admin" } else { "user" }.into(),
            is_protected: false,
            is_service: false,
            is_active: true,
            is_deleted: false,
            locked_until: None,
            owned_guilds: 0,
            comments: 0,
            reviews: 0,
            messages: 0,
            chat_sessions: 0,
            created_at: at(n as u32),
        }
    }

    fn guild(n: u128, name: &str) -> GuildRow {
        GuildRow {
            id: id(n),
            name: name.into(),
            owner_id: None,
            owner_name: None,
            members: 3,
            chat_sessions: 1,
            messages: 9,
            settings: 0,
            created_at: at(n as u32),
        }
    }

    /// The real admin, its eight look-alikes, and ordinary names.
    fn users() -> Vec<UserRow> {
        let mut rows = vec![user(1, "admin")];
        for (i, name) in ADMIN_LOOKALIKES.iter().enumerate() {
            rows.push(user(10 + i as u128, name));
        }
        rows.extend([user(30, "mara"), user(31, "José"), user(32, "北京")]);
        rows
    }

    fn planned(kind: OpKind, targets: &[(Id, &str)]) -> Plan {
        let ids: Vec<Id> = targets.iter().map(|(id, _)| id.clone()).collect();
        let mut plan = plan_for(&ids, 0, vec![]);
        plan.request = OpRequest::new(Operation::new(kind, TargetIds::new(ids).unwrap()), None);
        for (t, (_, label)) in plan.targets.iter_mut().zip(targets) {
            t.label = (*label).to_string();
        }
        plan
    }

    fn confirm_with(app: &mut App, requests: &[Request], plan: Plan) {
        let (seq, _, _) = plan_request(requests).expect("a plan request");
        app.update(super::data(Response::Planned {
            seq,
            result: Ok(vec![plan]),
        }));
        assert!(matches!(app.popup, Some(Popup::Confirm(_))));
    }

    fn users_app() -> App {
        let mut app = signed_in(admin(), false, (120, 40));
        let requests = app.update(ch('5'));
        load(
            &mut app,
            &requests,
            Slot::Users,
            PageData::Users(Page {
                rows: users(),
                next: None,
            }),
        );
        app
    }

    fn rows_of<'a>(text: &'a str, column: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| l.contains(column))
            .map(str::trim)
            .collect()
    }

    #[test]
    fn every_admin_lookalike_is_flagged_in_the_users_list_and_none_reads_admin() {
        let app = users_app();
        let (text, buf) = screen(&app, 120, 40);
        let flagged = rows_of(&text, "⚠ look-alike of admin");
        assert_eq!(flagged.len(), 8, "{text}");
        // The real admin reads `admin` and is not flagged; nothing else reads `admin`.
        let admins: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .map(|w| w.trim_start_matches(['›', '●']))
                    == Some("admin")
            })
            .collect();
        assert_eq!(admins.len(), 1, "only the real admin reads admin:\n{text}");
        assert!(!admins[0].contains('⚠'));
        for shown in ["admin␣", "ad�min�", "admin�", "ad�min", "аdmin"] {
            assert!(text.contains(shown), "{shown} on screen:\n{text}");
        }
        // (A wide character's second cell reads as a space here.)
        for ordinary in ["mara", "José", "北"] {
            let row = rows_of(&text, ordinary);
            assert!(
                row.len() == 1 && !row[0].contains('⚠'),
                "{ordinary}:\n{text}"
            );
        }
        // The marker is bold and underlined, so it stands out without colour too.
        let (x, y) = (0..40u16)
            .flat_map(|y| (0..120u16).map(move |x| (x, y)))
            .find(|&(x, y)| buf[(x, y)].symbol() == "⚠")
            .unwrap();
        let style = buf[(x, y)].style();
        assert!(
            style
                .add_modifier
                .contains(Modifier::BOLD | Modifier::UNDERLINED)
        );
        insta::assert_snapshot!("lookalike_users_120x40", text);
        insta::assert_snapshot!("lookalike_users_80x24", screen(&app, 80, 24).0);
    }

    #[test]
    fn a_lookalike_users_details_and_delete_confirmation_say_what_it_imitates() {
        let mut app = users_app();
        // The Cyrillic `аdmin` is last of the eight.
        for _ in 0..8 {
            app.update(ch('j'));
        }
        app.update(key(KeyCode::Enter));
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("User аdmin") && text.contains("⚠ look-alike of admin"),
            "{text}"
        );
        insta::assert_snapshot!("lookalike_user_detail_120x40", text);
        app.update(key(KeyCode::Esc));
        let requests = app.update(ch('d'));
        confirm_with(
            &mut app,
            &requests,
            planned(OpKind::DeleteUsers, &[(id(17), "\u{430}dmin")]),
        );
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("1 name here passes for another")
                && text.contains("аdmin ⚠ look-alike of admin"),
            "{text}"
        );
        insta::assert_snapshot!("lookalike_user_confirm_120x40", text);
    }

    fn guilds_app(rows: Vec<GuildRow>) -> App {
        let mut app = signed_in(admin(), false, (120, 40));
        let requests = app.update(ch('4'));
        load(
            &mut app,
            &requests,
            Slot::Guilds,
            PageData::Guilds(Page { rows, next: None }),
        );
        app
    }

    #[test]
    fn lookalike_guilds_are_flagged_in_the_list_the_opened_guild_and_the_confirmation() {
        let mut app = guilds_app(vec![
            guild(1, "admin"),
            guild(2, "admin\u{3164}"),
            guild(3, "Book Lovers"),
            guild(4, "B\u{43e}\u{43e}k Lovers"),
            guild(5, "Night Owls"),
        ]);
        let (text, _) = screen(&app, 120, 40);
        assert_eq!(rows_of(&text, "⚠ look-alike of admin").len(), 1, "{text}");
        assert_eq!(
            rows_of(&text, "⚠ look-alike of Book Lovers").len(),
            1,
            "{text}"
        );
        assert!(!rows_of(&text, "Night Owls")[0].contains('⚠'));
        insta::assert_snapshot!("lookalike_guilds_120x40", text);
        insta::assert_snapshot!("lookalike_guilds_80x24", screen(&app, 80, 24).0);
        app.update(ch('j'));
        app.update(key(KeyCode::Enter));
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("Guilds › admin� ⚠ look-alike of admin"),
            "{text}"
        );
        let requests = app.update(ch('d'));
        confirm_with(
            &mut app,
            &requests,
            planned(OpKind::DeleteGuilds, &[(id(2), "admin\u{3164}")]),
        );
        let (text, _) = screen(&app, 120, 40);
        assert!(text.contains("admin� ⚠ look-alike of admin"), "{text}");
        insta::assert_snapshot!("lookalike_guild_confirm_120x40", text);
    }

    /// Tabs from the typed field to the Delete button and presses `y`.
    fn try_confirm(app: &mut App) -> bool {
        for _ in 0..3 {
            app.update(key(KeyCode::Tab));
        }
        let confirmed = app
            .update(ch('y'))
            .iter()
            .any(|r| matches!(r, Request::Execute { .. }));
        if !confirmed {
            for _ in 0..3 {
                app.update(key(KeyCode::BackTab));
            }
        }
        confirmed
    }

    fn clear_typed(app: &mut App) {
        for _ in 0..20 {
            app.update(key(KeyCode::Backspace));
        }
    }

    #[test]
    fn typing_what_a_hidden_character_guild_reads_as_does_not_delete_it_but_what_is_asked_does() {
        let mut app = guilds_app(vec![guild(1, "admin"), guild(2, "admin\u{3164}")]);
        app.update(ch('j'));
        let requests = app.update(ch('d'));
        confirm_with(
            &mut app,
            &requests,
            planned(OpKind::DeleteGuilds, &[(id(2), "admin\u{3164}")]),
        );
        let (text, _) = screen(&app, 120, 40);
        assert!(text.contains("Type 1 to confirm"), "{text}");
        typed(&mut app, "admin");
        assert!(
            !try_confirm(&mut app),
            "the look-alike's skeleton confirms nothing"
        );
        clear_typed(&mut app);
        typed(&mut app, "1");
        assert!(try_confirm(&mut app), "what the popup asks for confirms");
    }

    #[test]
    fn a_typable_guild_name_is_compared_exactly_so_a_lookalike_typed_for_it_fails() {
        let mut app = guilds_app(vec![guild(1, "admin"), guild(2, "admin ")]);
        let requests = app.update(ch('d'));
        confirm_with(
            &mut app,
            &requests,
            planned(OpKind::DeleteGuilds, &[(id(1), "admin")]),
        );
        assert!(screen(&app, 120, 40).0.contains("Type admin to confirm"));
        typed(&mut app, "\u{430}dmin");
        assert!(!try_confirm(&mut app));
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("that only looks like admin: type the name exactly as shown"),
            "{text}"
        );
        clear_typed(&mut app);
        typed(&mut app, "admin");
        assert!(try_confirm(&mut app));
        // `admin ` with its trailing space cannot be typed as shown (`admin␣`): the count.
        let mut app = guilds_app(vec![guild(1, "admin"), guild(2, "admin ")]);
        app.update(ch('j'));
        let requests = app.update(ch('d'));
        confirm_with(
            &mut app,
            &requests,
            planned(OpKind::DeleteGuilds, &[(id(2), "admin ")]),
        );
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("Type 1 to confirm") && text.contains("admin␣ ⚠ look-alike of admin"),
            "{text}"
        );
    }
}

mod every_day {
    use super::*;

    fn count_seq(requests: &[Request], slot: Slot) -> Option<u64> {
        requests.iter().find_map(|r| match r {
            Request::Count { slot: s, seq, .. } if *s == slot => Some(*seq),
            _ => None,
        })
    }

    #[test]
    fn the_title_shows_the_cursors_position_and_the_total_counted_with_the_first_page() {
        let mut app = App::new(options(false, true), (80, 24));
        app.update(data(Response::Connected {
            backend: Backend::Sqlite,
            url: "sqlite:demo.db".into(),
            ids: Default::default(),
        }));
        let requests = app.update(data(Response::SignedIn(admin())));
        let count = count_seq(&requests, Slot::Chats).expect("the first page comes with a count");
        let Some(Request::Load { seq, .. }) = requests.first() else {
            panic!("{requests:?}")
        };
        let next = SortCursor::from(TimeCursor {
            at: at(1),
            id: id(8),
        });
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq: *seq,
            result: Ok(PageData::ChatSessions(Page {
                rows: sessions(),
                next: Some(next),
            })),
        }));
        assert!(
            screen(&app, 80, 24).0.contains("1 of 8+"),
            "before the count: the rows loaded, and more to come"
        );
        app.update(data(Response::Count {
            slot: Slot::Chats,
            seq: count,
            result: Ok(20_000),
        }));
        for _ in 0..3 {
            app.update(ch('j'));
        }
        let (text, _) = screen(&app, 80, 24);
        assert!(
            text.lines().nth(1).unwrap().ends_with("4 of 20,000"),
            "{text}"
        );

        // A new filter counts again, with the same filter as its first page.
        app.update(ch('/'));
        typed(&mut app, "travel");
        let requests = app.update(key(KeyCode::Enter));
        assert!(requests.iter().any(|r| matches!(r,
            Request::Count { query: Query::ChatSessions { filter, .. }, .. }
                if filter.text.as_deref() == Some("travel"))));
        // A stale count is dropped.
        app.update(data(Response::Count {
            slot: Slot::Chats,
            seq: count,
            result: Ok(20_000),
        }));
        assert!(app.chats.list.total.is_none());
    }

    #[test]
    fn y_copies_the_full_id_of_the_row_under_the_cursor_and_says_so() {
        let mut app = signed_in(admin(), false, (120, 40));
        app.update(ch('j'));
        app.update(ch('y'));
        let copied = app.take_clipboard().expect("y copies");
        assert_eq!(
            copied,
            id(2).to_string(),
            "the full id, not the short one shown"
        );
        assert_eq!(app.take_clipboard(), None, "written once");
        let (text, _) = screen(&app, 120, 40);
        assert!(text.contains(&format!("copied id {}", id(2))), "{text}");
        assert_eq!(
            modcon::tui::clipboard::osc52(&copied),
            format!(
                "\x1b]52;c;{}\x07",
                modcon::tui::clipboard::base64(copied.as_bytes())
            )
        );
        // In help, from the live keymap (further down the list of keys).
        app.update(ch('?'));
        app.update(key(KeyCode::PageDown));
        assert!(screen(&app, 120, 40).0.contains("copy the row's full id"));
        app.update(key(KeyCode::Esc));
        // An empty list has nothing to copy.
        app.update(ch('4'));
        app.update(ch('y'));
        assert_eq!(app.take_clipboard(), None);
        assert!(screen(&app, 120, 40).0.contains("nothing to copy"));
    }

    fn message(uuid: &str) -> PrivateMessageRow {
        PrivateMessageRow {
            id: Id::from(Uuid::parse_str(uuid).unwrap()),
            sender_id: None,
            sender_name: Some("alice".into()),
            recipient_id: None,
            recipient_name: Some("bob".into()),
            excerpt: "hello".into(),
            length: 5,
            created_at: at(1),
            read_at: None,
        }
    }

    fn command(app: &mut App, text: &str) -> Vec<Request> {
        app.update(ch(':'));
        typed(app, text);
        app.update(key(KeyCode::Enter))
    }

    #[test]
    fn goto_jumps_to_the_loaded_row_a_unique_id_prefix_names_and_says_when_it_is_ambiguous() {
        let mut app = signed_in(admin(), false, (120, 40));
        let requests = app.update(ch('2'));
        let Some(Request::Load { seq, .. }) = requests.first() else {
            panic!("{requests:?}")
        };
        let rows = vec![
            message("abc12345-0000-4000-8000-000000000001"),
            message("abd00000-0000-4000-8000-000000000002"),
            message("ff000000-0000-4000-8000-000000000003"),
        ];
        app.update(data(Response::Page {
            slot: Slot::Messages,
            seq: *seq,
            result: Ok(PageData::PrivateMessages(Page { rows, next: None })),
        }));
        // The short id a table shows, in any case, is a prefix; no query is needed.
        assert!(
            command(&mut app, "goto FF00")
                .iter()
                .all(|r| !matches!(r, Request::Load { .. }))
        );
        assert_eq!(app.messages.list.selected, 2);
        assert!(screen(&app, 120, 40).0.contains("3 of 3"));
        command(&mut app, "goto abc1");
        assert_eq!(app.messages.list.selected, 0);
        command(&mut app, "goto ab");
        assert_eq!(
            app.messages.list.selected, 0,
            "an ambiguous prefix moves nothing"
        );
        let (text, _) = screen(&app, 120, 40);
        assert!(
            text.contains("2 loaded rows have an id starting with ab"),
            "{text}"
        );

        // A whole id behaves as before: that row alone, from the database.
        app.update(ch('1'));
        let requests = command(&mut app, &format!("goto {}", id(3)));
        assert!(
            requests.iter().any(|r| matches!(r,
            Request::Load { query: Query::ChatSessions { filter, .. }, .. }
                if filter.id == Some(id(3)))),
            "{requests:?}"
        );
        // Users have no whole-id lookup: a prefix that matches nothing says so.
        app.update(ch('5'));
        command(&mut app, "goto 0badc0de");
        assert!(
            screen(&app, 120, 40)
                .0
                .contains("no loaded row has an id starting with 0badc0de")
        );
    }
}

mod unreachable_database {
    use super::*;

    #[test]
    fn the_sign_in_screen_shows_the_whole_reason_the_database_refused() {
        let mut app = App::new(options(false, true), (80, 24));
        app.update(data(Response::ConnectFailed(
            DataError::Unavailable(
                "postgres://app:***@db.example:5432/platform?sslmode=verify-full: the server's \
                 certificate is not signed by a certificate authority in sslrootcert"
                    .into(),
            )
            .to_string(),
        )));
        let (text, _) = screen(&app, 80, 24);
        let joined = text
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for part in [
            "cannot reach or open the database",
            "not signed by a certificate authority in sslrootcert",
            "retrying",
        ] {
            assert!(joined.contains(part), "{part:?} missing:\n{text}");
        }
    }

    #[test]
    fn a_list_the_database_did_not_answer_says_so_on_the_status_line_and_r_asks_again() {
        let mut app = signed_in(admin(), false, (120, 40));
        let requests = app.update(ch('R'));
        let seq = requests
            .iter()
            .find_map(|r| match r {
                Request::Load {
                    slot: Slot::Chats,
                    seq,
                    ..
                } => Some(*seq),
                _ => None,
            })
            .expect("R reloads the list");
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq,
            result: Err(DataError::Unavailable(
                "no answer from postgres://app@db/platform within 40 s".into(),
            )),
        }));
        let (text, _) = screen(&app, 120, 40);
        let status = text.lines().rev().nth(1).unwrap_or_default();
        assert!(
            status.contains("cannot reach or open the database (R tries again): no answer"),
            "{text}"
        );
        // Still usable: help opens and closes, and R asks again.
        app.update(ch('?'));
        assert!(screen(&app, 120, 40).0.contains(" Keys "));
        app.update(key(KeyCode::Esc));
        assert!(!screen(&app, 120, 40).0.contains(" Keys "));
        let again = app.update(ch('R'));
        assert!(
            again.iter().any(|r| matches!(
                r,
                Request::Load {
                    slot: Slot::Chats,
                    ..
                }
            )),
            "{again:?}"
        );
    }
}

fn audit_entry(n: i64, action: &str, batch_id: Uuid) -> AuditEntry {
    AuditEntry {
        id: n,
        at: at(n as u32 % 60),
        batch_id,
        actor_id: Some(id(999).to_string()),
        actor_name: "root".into(),
        action: action.into(),
        target_type: "chat_session".into(),
        target_id: Some(id(n as u128).to_string()),
        target_label: format!("session {n}"),
        counts: serde_json::json!({}),
        reason: None,
        details: serde_json::json!({}),
    }
}

/// The Audit tab with a delete's summary row on top and a comment edit under it.
fn audit_tab(app: &mut App, batch: Uuid) {
    let requests = app.update(ch('6'));
    let seq = requests
        .iter()
        .find_map(|r| match r {
            Request::Load {
                slot: Slot::Audit,
                seq,
                ..
            } => Some(*seq),
            _ => None,
        })
        .expect("the audit record loads");
    app.update(data(Response::Page {
        slot: Slot::Audit,
        seq,
        result: Ok(PageData::Audit(Page {
            rows: vec![
                audit_entry(43, "chat_session.delete.bulk", batch),
                audit_entry(42, "comment.edit", Uuid::from_u128(7)),
            ],
            next: None,
        })),
    }));
}

fn restore_request(requests: &[Request]) -> Option<(u64, Uuid, bool)> {
    requests.iter().find_map(|r| match r {
        Request::Restore {
            seq,
            batch_id,
            plan_only,
        } => Some((*seq, *batch_id, *plan_only)),
        _ => None,
    })
}

fn restore_report(batch: Uuid, planned: bool) -> modcon::db::trash::RestoreReport {
    use modcon::db::trash::{RestoreRefusal, RestoreReport, TableRestore};
    RestoreReport {
        batch_id: batch,
        target_type: "chat_session".into(),
        planned,
        restore_batch_id: (!planned).then(|| Uuid::from_u128(9)),
        tables: vec![
            TableRestore {
                table: "chat_sessions".into(),
                restored: 1,
                refused: 1,
                relinked: 0,
                relink_refused: 0,
            },
            TableRestore {
                table: "chat_messages".into(),
                restored: 4,
                refused: 2,
                relinked: 0,
                relink_refused: 0,
            },
        ],
        refused: vec![
            RestoreRefusal {
                table: "chat_sessions".into(),
                key: "id = \x1b[2Jsquat\u{202e}ted".into(),
                reason: "the id is taken again (id = squatted)".into(),
            },
            RestoreRefusal {
                table: "chat_messages".into(),
                key: "id = m1".into(),
                reason: "its parent in chat_sessions (session_id = squatted) was not restored"
                    .into(),
            },
        ],
        restored_targets: vec![id(1).to_string()],
        refused_targets: vec!["squatted".into()],
    }
}

#[test]
fn u_on_a_delete_in_the_audit_pane_shows_what_comes_back_and_confirming_restores_it() {
    let batch = Uuid::from_u128(0xb47c4);
    let mut app = signed_in(admin(), false, (120, 40));
    audit_tab(&mut app, batch);
    let (text, _) = screen(&app, 120, 40);
    assert!(text.contains("u restore"), "the hint line offers u: {text}");

    // u asks the data layer what would come back; nothing is restored yet.
    let requests = app.update(ch('u'));
    let (seq, asked, plan_only) = restore_request(&requests).expect("u plans the restore");
    assert_eq!((asked, plan_only), (batch, true));
    app.update(data(Response::Restore {
        seq,
        plan_only: true,
        result: Ok(modcon::batch::Restored {
            report: restore_report(batch, true),
            cache: None,
        }),
    }));
    let (text, _) = screen(&app, 120, 40);
    assert_harmless(&text);
    assert!(text.contains("Restore from the trash"), "{text}");
    assert!(text.contains("chat_session.delete.bulk by root"), "{text}");
    assert!(text.contains("5 rows would come back, 2 cannot"), "{text}");
    assert!(text.contains("the id is taken again"), "{text}");
    assert!(text.contains("was not restored"), "{text}");
    insta::assert_snapshot!("restore_plan_80x24", screen(&app, 80, 24).0);

    // The key that opened it does not confirm it; focus starts on Cancel.
    assert!(restore_request(&app.update(ch('u'))).is_none());
    assert!(restore_request(&app.update(key(KeyCode::Enter))).is_none());
    assert!(app.popup.is_none(), "Enter on Cancel closes it");
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .0
            .contains("nothing was restored")
    );

    // Again, and y confirms: the same batch, restored for real.
    let (seq, _, _) = restore_request(&app.update(ch('u'))).unwrap();
    app.update(data(Response::Restore {
        seq,
        plan_only: true,
        result: Ok(modcon::batch::Restored {
            report: restore_report(batch, true),
            cache: None,
        }),
    }));
    let requests = app.update(ch('y'));
    let (seq, asked, plan_only) = restore_request(&requests).expect("y restores");
    assert_eq!((asked, plan_only), (batch, false));
    assert!(screen(&app, 120, 40).0.contains("restoring"));
    assert!(
        app.update(key(KeyCode::Esc)).is_empty(),
        "keys wait for the outcome"
    );
    assert!(matches!(app.popup, Some(Popup::Restore(_))));
    // A late answer to an older request is not this restore's.
    app.update(data(Response::Restore {
        seq: seq - 1,
        plan_only: false,
        result: Err(DataError::Unavailable("stale".into())),
    }));
    assert!(matches!(app.popup, Some(Popup::Restore(_))));
    let requests = app.update(data(Response::Restore {
        seq,
        plan_only: false,
        result: Ok(modcon::batch::Restored {
            report: restore_report(batch, false),
            cache: Some(modcon::cache::CacheOutcome::Cleared { keys: 3 }),
        }),
    }));
    let (text, _) = screen(&app, 120, 40);
    assert_harmless(&text);
    assert!(text.contains("restored 5 rows of batch"), "{text}");
    assert!(text.contains("5 rows came back, 2 cannot"), "{text}");
    assert!(text.contains("cache: removed 3 keys"), "{text}");
    assert!(
        app.last_outcome
            .as_deref()
            .is_some_and(|o| o.contains("restored 5 rows") && o.contains("2 could not")),
        "{:?}",
        app.last_outcome
    );
    // The lists are loaded again: what came back shows.
    for slot in [Slot::Audit, Slot::Chats] {
        assert!(
            requests
                .iter()
                .any(|r| matches!(r, Request::Load { slot: s, .. } if *s == slot)),
            "{slot:?} reloads: {requests:?}"
        );
    }
    app.update(key(KeyCode::Esc));
    assert!(app.popup.is_none());
    let seq = requests
        .iter()
        .find_map(|r| match r {
            Request::Load {
                slot: Slot::Audit,
                seq,
                ..
            } => Some(*seq),
            _ => None,
        })
        .unwrap();
    app.update(data(Response::Page {
        slot: Slot::Audit,
        seq,
        result: Ok(PageData::Audit(Page {
            rows: vec![
                audit_entry(44, "trash.restore.batch", Uuid::from_u128(9)),
                audit_entry(43, "chat_session.delete.bulk", batch),
                audit_entry(42, "comment.edit", Uuid::from_u128(7)),
            ],
            next: None,
        })),
    }));
    app.update(ch('j'));

    // A purged or already restored batch: the data layer's reason, in a popup.
    let (seq, _, _) = restore_request(&app.update(ch('u'))).unwrap();
    app.update(data(Response::Restore {
        seq,
        plan_only: true,
        result: Err(DataError::Invalid(
            "batch 000b47c4 was already restored at 2026-11-20 12:00:00 UTC by root".into(),
        )),
    }));
    let (text, _) = screen(&app, 120, 40);
    assert!(
        text.contains("Cannot restore batch") && text.contains("already restored"),
        "{text}"
    );
    app.update(key(KeyCode::Esc));

    // An edit is not a delete: nothing in the trash, said without asking the database.
    app.update(ch('j'));
    let requests = app.update(ch('u'));
    assert!(restore_request(&requests).is_none());
    let (text, _) = screen(&app, 120, 40);
    assert!(text.contains("not a delete"), "{text}");
}

#[test]
fn u_is_refused_in_a_read_only_session_and_for_a_moderator_and_not_offered() {
    let batch = Uuid::from_u128(0xb47c4);
    let moderator = Actor {
        id: id(998),
        username: "mod".into(),
        role: Role::Moderator,
    };
    for (actor, read_only, expected) in [
        (admin(), true, "read-only session"),
        (
            moderator,
            false,
            "restoring deleted rows from the trash is not allowed for the moderator role",
        ),
    ] {
        let mut app = signed_in(actor, read_only, (120, 40));
        audit_tab(&mut app, batch);
        let (text, _) = screen(&app, 120, 40);
        assert!(!text.contains("u restore"), "{text}");
        let requests = app.update(ch('u'));
        assert!(restore_request(&requests).is_none(), "{requests:?}");
        assert!(app.popup.is_none());
        let status = app.status.clone().unwrap().0;
        assert!(status.contains(expected), "{status}");
    }
}

mod lists_as_a_daily_tool {
    use super::*;
    use modcon::db::lists::{Order, SessionSort};

    fn loads(requests: &[Request], slot: Slot) -> Vec<(u64, Query)> {
        requests
            .iter()
            .filter_map(|r| match r {
                Request::Load {
                    slot: s,
                    seq,
                    query,
                } if *s == slot => Some((*seq, query.clone())),
                _ => None,
            })
            .collect()
    }

    fn counts(requests: &[Request], slot: Slot) -> Vec<u64> {
        requests
            .iter()
            .filter_map(|r| match r {
                Request::Count { slot: s, seq, .. } if *s == slot => Some(*seq),
                _ => None,
            })
            .collect()
    }

    fn cursor(n: u128) -> SortCursor {
        SortCursor::from(TimeCursor {
            at: at(1),
            id: id(n),
        })
    }

    /// Sessions numbered from `from`, newest first, as a page the worker sends.
    fn page_of(range: std::ops::Range<u128>) -> Vec<ChatSessionRow> {
        range
            .map(|n| ChatSessionRow {
                created_at: at(0) - chrono::Duration::minutes(n as i64),
                updated_at: at(0) - chrono::Duration::minutes(n as i64),
                guild_name: None,
                ..session(1, &format!("session {n}"), Some("alice"), 1)
            })
            .map(|mut r| {
                r.id = id(n_of(&r.title));
                r
            })
            .collect()
    }

    fn n_of(title: &str) -> u128 {
        title.trim_start_matches("session ").parse().unwrap_or(0)
    }

    /// Signed in with the first 100 of 20,000 sessions loaded and counted.
    fn long_list(size: (u16, u16)) -> App {
        let mut app = App::new(options(false, true), size);
        app.update(data(Response::Connected {
            backend: Backend::Sqlite,
            url: "sqlite:demo.db".into(),
            ids: Default::default(),
        }));
        let requests = app.update(data(Response::SignedIn(admin())));
        let (seq, _) = loads(&requests, Slot::Chats)[0].clone();
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq,
            result: Ok(PageData::ChatSessions(Page {
                rows: page_of(0..100),
                next: Some(cursor(99)),
            })),
        }));
        app.update(data(Response::Count {
            slot: Slot::Chats,
            seq: counts(&requests, Slot::Chats)[0],
            result: Ok(20_000),
        }));
        app
    }

    #[test]
    fn g_goes_to_the_real_last_row_and_k_near_the_top_fetches_the_page_before() {
        let mut app = long_list((80, 24));
        let requests = app.update(ch('G'));
        let found = loads(&requests, Slot::Chats);
        let [
            (
                seq,
                Query::ChatSessions {
                    seek: Seek::Last,
                    order,
                    ..
                },
            ),
        ] = found.as_slice()
        else {
            panic!("G asks for the last page: {requests:?}")
        };
        assert_eq!(*order, Order::default());
        assert!(
            counts(&requests, Slot::Chats).is_empty(),
            "the total is known already"
        );
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq: *seq,
            result: Ok(PageData::ChatSessions(Page {
                rows: page_of(19_900..20_000),
                next: Some(cursor(19_900)),
            })),
        }));
        let (text, _) = screen(&app, 80, 24);
        assert!(text.contains("20,000 of 20,000"), "{text}");
        assert!(text.contains("session 19999"), "{text}");
        insta::assert_snapshot!("chats_tail_80x24", text);
        // Up through what is loaded: near its top, the page before is asked for.
        let mut asked = Vec::new();
        for _ in 0..70 {
            asked.extend(loads(&app.update(ch('k')), Slot::Chats));
        }
        assert!(screen(&app, 80, 24).0.contains("19,930 of 20,000"));
        let [
            (
                seq,
                Query::ChatSessions {
                    seek: Seek::Before(before),
                    ..
                },
            ),
        ] = asked.as_slice()
        else {
            panic!("one page before: {asked:?}")
        };
        assert_eq!(before, &cursor(19_900));
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq: *seq,
            result: Ok(PageData::ChatSessions(Page {
                rows: page_of(19_800..19_900),
                next: Some(cursor(19_800)),
            })),
        }));
        assert!(
            screen(&app, 80, 24).0.contains("19,930 of 20,000"),
            "the cursor stays on its row"
        );
        // g goes back to the head.
        let requests = app.update(ch('g'));
        assert!(matches!(
            loads(&requests, Slot::Chats).as_slice(),
            [(
                _,
                Query::ChatSessions {
                    seek: Seek::First,
                    ..
                }
            )]
        ));
    }

    #[test]
    fn g_keeps_the_filter_and_the_sort() {
        let mut app = long_list((80, 24));
        app.update(ch('s'));
        let requests = {
            app.update(ch('/'));
            typed(&mut app, "alice");
            app.update(key(KeyCode::Enter))
        };
        let (seq, _) = loads(&requests, Slot::Chats)[0].clone();
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq,
            result: Ok(PageData::ChatSessions(Page {
                rows: page_of(0..100),
                next: Some(cursor(99)),
            })),
        }));
        let requests = app.update(key(KeyCode::End));
        let found = loads(&requests, Slot::Chats);
        let [
            (
                _,
                Query::ChatSessions {
                    seek: Seek::Last,
                    order,
                    filter,
                },
            ),
        ] = found.as_slice()
        else {
            panic!("End asks for the last page: {requests:?}")
        };
        assert_eq!(order.key, SessionSort::Updated);
        assert_eq!(filter.text.as_deref(), Some("alice"));
    }

    #[test]
    fn s_cycles_the_sort_column_and_shift_s_reverses_it_with_the_header_showing_the_order() {
        let mut app = long_list((80, 24));
        let requests = app.update(ch('s'));
        let found = loads(&requests, Slot::Chats);
        let [
            (
                _,
                Query::ChatSessions {
                    order,
                    seek: Seek::First,
                    ..
                },
            ),
        ] = found.as_slice()
        else {
            panic!("s reloads in the new order: {requests:?}")
        };
        assert_eq!(
            *order,
            Order {
                key: SessionSort::Updated,
                descending: true
            }
        );
        assert!(
            !counts(&requests, Slot::Chats).is_empty(),
            "counted again with the reload"
        );
        app.update(ch('s'));
        let requests = app.update(ch('S'));
        let found = loads(&requests, Slot::Chats);
        let [(seq, Query::ChatSessions { order, .. })] = found.as_slice() else {
            panic!("{requests:?}")
        };
        assert_eq!(
            *order,
            Order {
                key: SessionSort::Messages,
                descending: false
            }
        );
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq: *seq,
            result: Ok(PageData::ChatSessions(Page {
                rows: {
                    let mut rows = sessions();
                    rows.sort_by_key(|r| r.messages);
                    rows
                },
                next: None,
            })),
        }));
        let (text, _) = screen(&app, 80, 24);
        assert!(text.contains("Msgs ▲"), "{text}");
        assert!(text.contains("by Msgs ▲"), "{text}");
        insta::assert_snapshot!("chats_sorted_by_messages_80x24", text);
        // Around the cycle back to the default: newest first, ▼ on Created.
        app.update(ch('s'));
        let requests = app.update(ch('s'));
        let found = loads(&requests, Slot::Chats);
        let [(_, Query::ChatSessions { order, .. })] = found.as_slice() else {
            panic!("{requests:?}")
        };
        assert_eq!(*order, Order::default());
    }

    #[test]
    fn users_comments_and_audit_sort_too() {
        let mut app = long_list((80, 24));
        for (tab, expected) in [('5', "Users"), ('3', "Content"), ('6', "Audit")] {
            app.update(ch(tab));
            let requests = app.update(ch('s'));
            let query = requests.iter().find_map(|r| match r {
                Request::Load { query, .. } => Some(format!("{query:?}")),
                _ => None,
            });
            let query = query.unwrap_or_else(|| panic!("{expected}: s reloads: {requests:?}"));
            assert!(query.starts_with(expected), "{query}");
            assert!(query.contains("descending"), "{query}");
            assert!(
                !query.contains("key: Name")
                    && !query.contains("key: Updated, ")
                    && !query.contains("key: At"),
                "the next column: {query}"
            );
        }
    }

    fn load_page(app: &mut App, requests: &[Request], slot: Slot, data_of: PageData) {
        let (seq, _) = loads(requests, slot)
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("a {slot:?} load in {requests:?}"));
        app.update(data(Response::Page {
            slot,
            seq,
            result: Ok(data_of),
        }));
    }

    fn user(n: u128, name: &str) -> modcon::db::lists::UserRow {
        modcon::db::lists::UserRow {
            id: id(n),
            username: name.into(),
            email: String::new(),
            role: "user".into(),
            is_protected: false,
            is_service: false,
            is_active: true,
            is_deleted: false,
            locked_until: None,
            owned_guilds: 0,
            comments: 0,
            reviews: 0,
            messages: 0,
            chat_sessions: 2,
            created_at: at(1),
        }
    }

    #[test]
    fn enter_on_a_user_shows_their_sessions_and_ctrl_o_returns_with_filter_sort_cursor_and_marks() {
        let mut app = long_list((80, 24));
        let requests = app.update(ch('5'));
        let users: Vec<_> = (1..=6).map(|n| user(n, &format!("user{n}"))).collect();
        load_page(
            &mut app,
            &requests,
            Slot::Users,
            PageData::Users(Page {
                rows: users.clone(),
                next: None,
            }),
        );
        // A sort, a filter, a mark and a cursor to come back to.
        let requests = app.update(ch('S'));
        load_page(
            &mut app,
            &requests,
            Slot::Users,
            PageData::Users(Page {
                rows: users.clone(),
                next: None,
            }),
        );
        app.update(ch('/'));
        typed(&mut app, "user");
        let requests = app.update(key(KeyCode::Enter));
        load_page(
            &mut app,
            &requests,
            Slot::Users,
            PageData::Users(Page {
                rows: users.clone(),
                next: None,
            }),
        );
        app.update(ch(' '));
        app.update(ch('j'));
        assert_eq!(app.users.list.selected, 2);
        app.update(key(KeyCode::Enter));
        assert!(
            matches!(app.popup, Some(Popup::Text(_))),
            "Enter shows the user first"
        );
        assert!(screen(&app, 80, 24).0.contains("Enter their chat sessions"));
        let requests = app.update(key(KeyCode::Enter));
        assert_eq!(app.tab, Tab::Chats);
        assert!(app.popup.is_none());
        let found = loads(&requests, Slot::Chats);
        let [(_, Query::ChatSessions { filter, .. })] = found.as_slice() else {
            panic!("the user's sessions are asked for: {requests:?}")
        };
        assert_eq!(filter.owner_id, Some(id(3)));
        assert!(screen(&app, 80, 24).0.contains("owner user3"));

        let requests = app.update(ctrl('o'));
        assert_eq!(app.tab, Tab::Users);
        assert!(
            requests.iter().all(|r| !matches!(
                r,
                Request::Load {
                    slot: Slot::Users,
                    ..
                }
            )),
            "nothing reloads: {requests:?}"
        );
        assert_eq!(app.users.list.selected, 2);
        assert_eq!(app.users.filter.text.as_deref(), Some("user"));
        assert!(app.users.order.descending, "the reversed sort");
        assert!(app.users.marks.contains(&id(1)));
        assert_eq!(app.users.list.rows.len(), 6);
        // And the Chats tab is as it was before the drill-down.
        assert_eq!(app.chats.filter.owner_id, None);
        assert_eq!(app.chats.list.rows.len(), 100);
        // Nothing further back: said, not an error.
        app.update(ctrl('o'));
        assert!(screen(&app, 80, 24).0.contains("no earlier view"));
    }

    #[test]
    fn ctrl_o_goes_back_several_views_guild_member_session() {
        let mut app = long_list((80, 24));
        app.update(ch('j'));
        app.update(ch('j'));
        let requests = app.update(ch('4'));
        let guild = modcon::db::lists::GuildRow {
            id: id(77),
            name: "Book Lovers".into(),
            owner_id: None,
            owner_name: None,
            members: 2,
            chat_sessions: 0,
            messages: 0,
            settings: 0,
            created_at: at(1),
        };
        load_page(
            &mut app,
            &requests,
            Slot::Guilds,
            PageData::Guilds(Page {
                rows: vec![guild],
                next: None,
            }),
        );
        let requests = app.update(key(KeyCode::Enter));
        let member = modcon::db::lists::GuildMemberRow {
            user_id: id(5),
            username: "bob".into(),
            role: "member".into(),
            joined_at: at(2),
        };
        load_page(
            &mut app,
            &requests,
            Slot::GuildMembers,
            PageData::GuildMembers(
                Page {
                    rows: vec![member],
                    next: None,
                },
                Vec::new(),
            ),
        );
        assert!(app.guilds.open.is_some());
        // A member's sessions, then one session's messages.
        let requests = app.update(key(KeyCode::Enter));
        assert_eq!(app.tab, Tab::Chats);
        assert_eq!(app.chats.filter.owner_id, Some(id(5)));
        load_page(
            &mut app,
            &requests,
            Slot::Chats,
            PageData::ChatSessions(Page {
                rows: page_of(0..3),
                next: None,
            }),
        );
        app.update(key(KeyCode::Enter));
        assert!(app.chats.open.is_some());

        app.update(ctrl('o'));
        assert_eq!(app.tab, Tab::Chats);
        assert!(app.chats.open.is_none(), "back to bob's sessions");
        assert_eq!(app.chats.filter.owner_id, Some(id(5)));
        app.update(ctrl('o'));
        assert_eq!(app.tab, Tab::Guilds);
        assert!(app.guilds.open.is_some(), "back to the guild's members");
        assert_eq!(app.chats.filter.owner_id, None, "Chats as it was before");
        assert_eq!(app.chats.list.selected, 2);
        app.update(ctrl('o'));
        assert_eq!(app.tab, Tab::Guilds);
        assert!(app.guilds.open.is_none(), "back to the guild list");
        insta::assert_snapshot!("guilds_after_ctrl_o_80x24", screen(&app, 80, 24).0);
    }

    #[test]
    fn a_command_that_changes_the_view_can_be_gone_back_from() {
        let mut app = long_list((80, 24));
        app.update(ch('j'));
        app.update(ch(':'));
        typed(&mut app, "orphans");
        app.update(key(KeyCode::Enter));
        assert!(app.chats.filter.orphans_only);
        app.update(ctrl('o'));
        assert!(!app.chats.filter.orphans_only);
        assert_eq!(app.chats.list.selected, 1);
    }

    fn chat_filter_loads(requests: &[Request]) -> Vec<(u64, Option<String>)> {
        loads(requests, Slot::Chats)
            .into_iter()
            .map(|(seq, q)| match q {
                Query::ChatSessions { filter, .. } => (seq, filter.text),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_filter_applies_as_typed_after_a_pause_and_an_older_answer_never_replaces_a_newer_one() {
        let mut app = long_list((80, 24));
        app.update(ch('/'));
        let typing = typed(&mut app, "tra");
        assert!(
            chat_filter_loads(&typing).is_empty(),
            "no query per keystroke"
        );
        assert!(
            chat_filter_loads(&app.update(Event::Tick)).is_empty(),
            "not yet: still typing, perhaps"
        );
        let first = chat_filter_loads(&app.update(Event::Tick));
        let [(older, Some(text))] = first.as_slice() else {
            panic!("{first:?}")
        };
        assert_eq!(text, "tra");
        typed(&mut app, "vel");
        app.update(Event::Tick);
        let second = chat_filter_loads(&app.update(Event::Tick));
        let [(newer, Some(text))] = second.as_slice() else {
            panic!("{second:?}")
        };
        assert_eq!(text, "travel");
        // Nothing more while nothing is typed.
        assert!(chat_filter_loads(&app.update(Event::Tick)).is_empty());
        // The newer answer first, then the older one, late: the newer stays.
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq: *newer,
            result: Ok(PageData::ChatSessions(Page {
                rows: vec![session(1, "travel plans", Some("alice"), 2)],
                next: None,
            })),
        }));
        app.update(data(Response::Page {
            slot: Slot::Chats,
            seq: *older,
            result: Ok(PageData::ChatSessions(Page {
                rows: page_of(0..30),
                next: None,
            })),
        }));
        assert_eq!(app.chats.list.rows.len(), 1);
        assert_eq!(app.chats.list.rows[0].title, "travel plans");
        // Enter keeps what is shown: no second query for the same text.
        let enter = app.update(key(KeyCode::Enter));
        assert!(chat_filter_loads(&enter).is_empty(), "{enter:?}");
        assert!(app.prompt.is_none());
        assert!(screen(&app, 80, 24).0.contains("/travel"));
    }

    #[test]
    fn esc_in_the_filter_prompt_puts_back_the_filter_it_had() {
        let mut app = long_list((80, 24));
        app.update(ch('/'));
        typed(&mut app, "zzz");
        app.update(Event::Tick);
        app.update(Event::Tick);
        let requests = app.update(key(KeyCode::Esc));
        let loaded = chat_filter_loads(&requests);
        assert_eq!(loaded.len(), 1, "{requests:?}");
        assert_eq!(loaded[0].1, None, "the unfiltered list again");
        assert_eq!(app.chats.filter.text, None);
    }

    #[test]
    fn up_and_down_recall_earlier_filters_and_commands_and_tab_completes() {
        let mut app = long_list((80, 24));
        for text in ["alice", "bob"] {
            app.update(ch('/'));
            typed(&mut app, text);
            app.update(key(KeyCode::Enter));
            // Esc on the list clears the filter, for the next to be typed afresh.
            app.update(key(KeyCode::Esc));
        }
        app.update(ch(':'));
        typed(&mut app, "orphans");
        app.update(key(KeyCode::Enter));
        // ↑ goes back through the filters typed before.
        app.update(ch('/'));
        app.update(key(KeyCode::Up));
        assert_eq!(app.prompt.as_ref().unwrap().input.value(), "bob");
        app.update(key(KeyCode::Up));
        assert_eq!(app.prompt.as_ref().unwrap().input.value(), "alice");
        app.update(key(KeyCode::Down));
        app.update(key(KeyCode::Down));
        assert_eq!(
            app.prompt.as_ref().unwrap().input.value(),
            "",
            "back to what was typed"
        );
        app.update(key(KeyCode::Esc));
        // Commands have their own history.
        app.update(ch(':'));
        app.update(key(KeyCode::Up));
        assert_eq!(app.prompt.as_ref().unwrap().input.value(), "orphans");
        // Tab completes a command, then a user name among those loaded.
        app.prompt = None;
        let requests = app.update(ch('5'));
        load_page(
            &mut app,
            &requests,
            Slot::Users,
            PageData::Users(Page {
                rows: vec![user(1, "alice"), user(2, "bob")],
                next: None,
            }),
        );
        app.update(ch(':'));
        typed(&mut app, "us");
        app.update(key(KeyCode::Tab));
        assert_eq!(app.prompt.as_ref().unwrap().input.value(), "user");
        assert!(
            screen(&app, 80, 24).0.contains("user · users"),
            "the candidates are shown"
        );
        typed(&mut app, " ");
        typed(&mut app, "al");
        app.update(key(KeyCode::Tab));
        assert_eq!(app.prompt.as_ref().unwrap().input.value(), "user alice");
    }

    fn mouse(kind: ratatui::crossterm::event::MouseEventKind, column: u16, row: u16) -> Event {
        Event::Mouse(ratatui::crossterm::event::MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    }

    #[test]
    fn a_click_selects_a_row_or_a_tab_the_wheel_scrolls_and_neither_marks_anything() {
        use ratatui::crossterm::event::{MouseButton, MouseEventKind};
        let mut app = long_list((80, 24));
        let click = MouseEventKind::Down(MouseButton::Left);
        app.update(mouse(click, 10, 7));
        assert_eq!(app.chats.list.selected, 4, "the fifth row on screen");
        assert!(app.chats.marks.is_empty());
        app.update(mouse(MouseEventKind::ScrollDown, 10, 7));
        assert_eq!(app.chats.list.selected, 7);
        app.update(mouse(MouseEventKind::ScrollUp, 10, 7));
        assert_eq!(app.chats.list.selected, 4);
        // Below the last row shown, on the status bar: nothing.
        app.update(mouse(click, 10, 22));
        assert_eq!(app.chats.list.selected, 4);
        // Scrolled down, a click counts from the first row on screen.
        for _ in 0..10 {
            app.update(mouse(MouseEventKind::ScrollDown, 10, 7));
        }
        let offset = app.chats.list.offset;
        assert!(offset > 0);
        app.update(mouse(click, 10, 3));
        assert_eq!(app.chats.list.selected, offset);
        // The tab bar: " 1 Chats " " 2 Messages " … the fifth label is Users.
        let (text, _) = screen(&app, 80, 24);
        let x = text.lines().next().unwrap().find("5 Users").unwrap() as u16;
        let requests = app.update(mouse(click, x + 2, 0));
        assert_eq!(app.tab, Tab::Users);
        assert!(
            !loads(&requests, Slot::Users).is_empty(),
            "the tab loads as with its key"
        );
        // With a popup open, a click does nothing underneath it.
        app.update(ch('1'));
        app.update(ch('?'));
        assert!(app.popup.is_some());
        let before = app.chats.list.selected;
        app.update(mouse(click, 10, 12));
        assert_eq!(app.chats.list.selected, before);
        assert_eq!(app.tab, Tab::Chats);
    }

    fn audit_row(n: i64, batch: u128, action: &str) -> AuditEntry {
        AuditEntry {
            id: n,
            at: at(0) + chrono::Duration::seconds(n),
            batch_id: Uuid::from_u128(batch),
            actor_id: Some(id(999).to_string()),
            actor_name: "admin".into(),
            action: action.into(),
            target_type: "user".into(),
            target_id: Some(n.to_string()),
            target_label: format!("user{n}"),
            counts: serde_json::json!({}),
            reason: None,
            details: serde_json::json!({}),
        }
    }

    /// The Audit tab with rows 10…4 loaded: a bulk delete (batch 1: rows 10–8), a
    /// single sign-in (batch 2: row 7) and another bulk (batch 3: rows 6–4), 30 in all.
    fn audit_tab() -> App {
        let mut app = long_list((80, 24));
        let requests = app.update(ch('6'));
        let rows = vec![
            audit_row(10, 1, "user.delete.bulk"),
            audit_row(9, 1, "user.delete"),
            audit_row(8, 1, "user.delete"),
            audit_row(7, 2, "auth.sign_in"),
            audit_row(6, 3, "chat_session.delete.bulk"),
            audit_row(5, 3, "chat_session.delete"),
            audit_row(4, 3, "chat_session.delete"),
        ];
        load_page(
            &mut app,
            &requests,
            Slot::Audit,
            PageData::Audit(Page {
                rows,
                next: Some(SortCursor::from(TimeCursor {
                    at: at(0),
                    id: Id::Int(4),
                })),
            }),
        );
        app.update(data(Response::Count {
            slot: Slot::Audit,
            seq: counts(&requests, Slot::Audit)[0],
            result: Ok(30),
        }));
        app
    }

    #[test]
    fn audit_rows_of_one_batch_show_under_one_header_that_enter_expands_and_esc_folds() {
        let mut app = audit_tab();
        let (text, _) = screen(&app, 80, 24);
        assert!(text.contains("▸ 3 rows · user.delete"), "{text}");
        assert!(
            !text.contains("user9"),
            "the batch's other rows are folded: {text}"
        );
        insta::assert_snapshot!("audit_batches_80x24", text);
        app.update(ch('j'));
        assert_eq!(
            app.audit.list.selected, 3,
            "down goes to the next batch, past the folded rows"
        );
        app.update(ch('j'));
        app.update(ch('k'));
        assert_eq!(app.audit.list.selected, 3);
        app.update(ch('k'));
        assert_eq!(app.audit.list.selected, 0, "up lands on the header");
        app.update(key(KeyCode::Enter));
        assert!(app.popup.is_none(), "Enter on a folded batch unfolds it");
        let (text, _) = screen(&app, 80, 24);
        assert!(
            text.contains("▾ 3 rows") && text.contains("└ user.delete"),
            "{text}"
        );
        app.update(ch('j'));
        assert_eq!(app.audit.list.selected, 1);
        app.update(key(KeyCode::Enter));
        assert!(
            matches!(app.popup, Some(Popup::Text(_))),
            "a row of it opens in full"
        );
        app.popup = None;
        app.update(key(KeyCode::Esc));
        assert_eq!(
            app.audit.list.selected, 0,
            "folded again, the cursor on the header"
        );
        assert!(!screen(&app, 80, 24).0.contains("└"));
        assert!(screen(&app, 80, 24).0.contains("1 of 30"));
    }

    #[test]
    fn the_audit_pane_asks_for_newer_rows_every_few_seconds_while_shown_and_puts_them_on_top() {
        let mut app = audit_tab();
        app.update(ch('j'));
        let mut asked = Vec::new();
        for _ in 0..25 {
            asked.extend(loads(&app.update(Event::Tick), Slot::Audit));
        }
        let [(seq, Query::AuditSince { after_id, .. })] = asked.as_slice() else {
            panic!("one ask for newer rows in 25 ticks: {asked:?}")
        };
        assert_eq!(*after_id, 10, "only rows newer than the newest shown");
        app.update(data(Response::Page {
            slot: Slot::Audit,
            seq: *seq,
            result: Ok(PageData::AuditSince(vec![
                audit_row(11, 4, "comment.edit"),
                audit_row(12, 5, "comment.delete"),
            ])),
        }));
        let ids: Vec<i64> = app.audit.list.rows.iter().map(|e| e.id).collect();
        assert_eq!(&ids[..3], &[12, 11, 10]);
        assert_eq!(
            app.audit.list.selected_row().map(|e| e.id),
            Some(7),
            "the cursor stays on its row"
        );
        assert!(
            screen(&app, 80, 24).0.contains("of 32"),
            "the total follows"
        );
        // Not while another tab is shown.
        app.update(ch('1'));
        let mut asked = Vec::new();
        for _ in 0..60 {
            asked.extend(loads(&app.update(Event::Tick), Slot::Audit));
        }
        assert!(asked.is_empty(), "{asked:?}");
    }
}
