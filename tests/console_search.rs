//! The content search in the console without a terminal: `:search TEXT` from Chats,
//! progress while the database works, Esc stopping it, marking every matching session
//! and deleting them through the usual plan and confirmation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use modcon::config::ConfirmConfig;
use modcon::db::ids::TargetIds;
use modcon::db::lists::{ChatSessionRow, Page};
use modcon::db::plan::Request as OpRequest;
use modcon::db::plan::{Done, OpKind, Operation, Outcome, Plan, PlannedTarget, RowCounts};
use modcon::db::search::SessionHit;
use modcon::db::{Actor, Backend, Id, Role};
use modcon::tui::app::{App, Options, Tab};
use modcon::tui::event::Event;
use modcon::tui::keymap::Keymap;
use modcon::tui::popup::Popup;
use modcon::tui::theme::Theme;
use modcon::tui::ui;
use modcon::tui::worker::{PageData, Query, Request, Response, RowKey, Slot};
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use uuid::Uuid;

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
        0x2000_0000_0000_4000_8000_0000_0000_0000 + n,
    ))
}

fn at(minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, minute, 0).unwrap()
}

fn admin() -> Actor {
    Actor {
        id: id(999),
        username: "admin".into(),
        role: Role::Admin,
    }
}

fn signed_in(size: (u16, u16)) -> App {
    let options = Options {
        read_only: false,
        demo_operators: Vec::new(),
        confirm: ConfirmConfig::default(),
        keymap: Keymap::default(),
        keymap_problems: Vec::new(),
        theme: Theme { color: true },
    };
    let mut app = App::new(options, size);
    app.update(data(Response::Connected {
        backend: Backend::Postgres,
        url: "postgres://db/platform".into(),
        ids: Default::default(),
    }));
    let requests = app.update(data(Response::SignedIn(admin())));
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
        .unwrap();
    let row = ChatSessionRow {
        id: id(1),
        title: "an ordinary session".into(),
        owner_id: Some(id(500)),
        owner_name: Some("alice".into()),
        guild_id: None,
        guild_name: None,
        model: "m".into(),
        messages: 3,
        created_at: at(1),
        updated_at: at(1),
    };
    app.update(data(Response::Page {
        slot: Slot::Chats,
        seq,
        result: Ok(PageData::ChatSessions(Page {
            rows: vec![row],
            next: None,
        })),
    }));
    app
}

fn screen(app: &App, width: u16, height: u16) -> String {
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
    text
}

fn assert_harmless(text: &str) {
    for c in text.chars() {
        let code = c as u32;
        assert!(
            !((0x7f..=0x9f).contains(&code) || (code < 0x20 && c != '\n')),
            "control character U+{code:04X} on screen"
        );
        assert!(
            !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
            "bidi control U+{code:04X} on screen"
        );
    }
}

fn hit(n: u128, title: &str, owner: Option<&str>, matches: i64, excerpt: &str) -> SessionHit {
    SessionHit {
        id: id(n),
        title: title.into(),
        owner_id: owner.map(|_| id(500 + n)),
        owner_name: owner.map(str::to_string),
        created_at: at(50 - n as u32),
        matches,
        excerpt: excerpt.into(),
        excerpt_cut: n == 2,
    }
}

/// `:search TEXT` typed on the command line; returns the page and count requests.
fn search(app: &mut App, text: &str) -> (u64, u64, Query) {
    app.update(ch(':'));
    typed(app, &format!("search {text}"));
    let requests = app.update(key(KeyCode::Enter));
    let load = requests
        .iter()
        .find_map(|r| match r {
            Request::Load {
                slot: Slot::Search,
                seq,
                query,
            } => Some((*seq, query.clone())),
            _ => None,
        })
        .expect(":search asks for the first page");
    let count = requests
        .iter()
        .find_map(|r| match r {
            Request::Count {
                slot: Slot::Search,
                seq,
                ..
            } => Some(*seq),
            _ => None,
        })
        .expect(":search asks for the total");
    (load.0, count, load.1)
}

fn plan_for(ids: &[Id]) -> Plan {
    let targets: Vec<PlannedTarget> = ids
        .iter()
        .map(|id| PlannedTarget {
            id: id.clone(),
            label: "spam session".into(),
            counts: RowCounts::new()
                .with("chat_sessions", 1)
                .with("chat_messages", 2),
            kept: RowCounts::new(),
            new_owner: None,
            snapshot: serde_json::Value::Null,
        })
        .collect();
    let mut counts = RowCounts::new();
    for t in &targets {
        counts.add_all(&t.counts);
    }
    Plan {
        request: OpRequest::new(
            Operation::new(
                OpKind::DeleteChatSessions,
                TargetIds::new(ids.to_vec()).unwrap(),
            ),
            None,
        ),
        targets,
        refused: vec![],
        counts,
        kept: RowCounts::new(),
        soft_delete: false,
        allowance: None,
    }
}

#[test]
fn the_spam_wave_search_marks_every_matching_session_and_deletes_them_after_confirmation() {
    let mut app = signed_in((120, 40));
    let (seq, count_seq, query) = search(&mut app, "spam.example");
    assert_eq!(app.tab, Tab::Search);
    let Query::ContentSearch { text, after, .. } = &query else {
        panic!("a content search, not {query:?}");
    };
    assert_eq!((text.as_str(), after), ("spam.example", &None));
    let waiting = screen(&app, 120, 40);
    assert!(
        waiting.contains("searching…") && waiting.contains("Esc stops it"),
        "{waiting}"
    );

    let hostile = "\u{1b}]52;c;ZXZpbA==\u{7}buy at https://spam.example/\u{202e}exe.gpj";
    app.update(data(Response::Page {
        slot: Slot::Search,
        seq,
        result: Ok(PageData::ContentSearch(Page {
            rows: vec![
                hit(
                    1,
                    "win a prize",
                    Some("spammer"),
                    3,
                    "free stuff at https://spam.example/win",
                ),
                hit(2, "\u{1b}[2Jcleared", None, 1, hostile),
                hit(
                    3,
                    "日本語 🦀",
                    Some("山田"),
                    12,
                    "見て https://spam.example/jp",
                ),
            ],
            next: None,
        })),
    }));
    app.update(data(Response::Count {
        slot: Slot::Search,
        seq: count_seq,
        result: Ok(5),
    }));
    let shown = screen(&app, 120, 40);
    assert_harmless(&shown);
    assert!(
        shown.contains("win a prize") && shown.contains("1 of 5"),
        "{shown}"
    );
    assert!(shown.contains("…"), "a cut excerpt says so: {shown}");
    insta::assert_snapshot!("search_results_120x40", shown);
    let small = screen(&app, 80, 24);
    assert_harmless(&small);
    insta::assert_snapshot!("search_results_80x24", small);

    // Ctrl-a marks every matching session, loaded or not: ids only, from the database.
    let requests = app.update(ctrl('a'));
    let Some(Request::Ids {
        seq, query, cap, ..
    }) = requests.into_iter().next()
    else {
        panic!("Ctrl-a asks for the ids");
    };
    assert!(matches!(query, Query::ContentSearch { .. }));
    assert_eq!(cap, 100_000);
    let all: Vec<Id> = (1..=5).map(id).collect();
    app.update(data(Response::Ids {
        seq,
        result: Ok(all
            .iter()
            .map(|id| RowKey {
                id: id.clone(),
                kind: None,
            })
            .collect()),
    }));
    assert_eq!(app.search.marks.len(), 5);
    assert!(screen(&app, 120, 40).contains("marked 5 matching sessions"));

    let requests = app.update(ch('d'));
    let Some((plan_seq, groups)) = requests.iter().find_map(|r| match r {
        Request::Plan { seq, groups, .. } => Some((*seq, groups.clone())),
        _ => None,
    }) else {
        panic!("d asks for a plan");
    };
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].kind, OpKind::DeleteChatSessions);
    let mut planned = groups[0].ids.clone();
    planned.sort();
    assert_eq!(planned, all, "every marked session, loaded or not");
    app.update(data(Response::Planned {
        seq: plan_seq,
        result: Ok(vec![plan_for(&groups[0].ids)]),
    }));
    assert!(matches!(app.popup, Some(Popup::Confirm(_))));
    let requests = app.update(ch('y'));
    let Some(Request::Execute { seq, plans, .. }) = requests.into_iter().next() else {
        panic!("y executes the plan");
    };
    let outcome = Outcome {
        batch_id: Uuid::nil(),
        request: plans[0].request.clone(),
        done: groups[0]
            .ids
            .iter()
            .map(|id| Done {
                id: id.clone(),
                label: "spam session".into(),
                counts: RowCounts::new().with("chat_messages", 2),
                new_owner: None,
            })
            .collect(),
        failed: vec![],
        counts: RowCounts::new()
            .with("chat_sessions", 5)
            .with("chat_messages", 10),
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
    assert_eq!(
        app.search.marks.len(),
        0,
        "the deleted sessions' marks are gone"
    );
    for slot in [Slot::Search, Slot::Chats] {
        assert!(
            requests
                .iter()
                .any(|r| matches!(r, Request::Load { slot: s, .. } if *s == slot)),
            "{slot:?} loads again after the delete"
        );
    }
    assert!(screen(&app, 120, 40).contains("deleted 5 chat sessions"));
}

#[test]
fn esc_stops_a_running_search_and_a_late_answer_changes_nothing() {
    let mut app = signed_in((80, 24));
    let (seq, _, query) = search(&mut app, "slow text");
    let Query::ContentSearch { interrupt, .. } = query else {
        panic!("a content search");
    };
    assert!(app.busy(), "the spinner turns while the database works");
    assert!(!interrupt.is_stopped());
    app.update(key(KeyCode::Esc));
    assert!(
        interrupt.is_stopped(),
        "Esc stops the statement on the server"
    );
    assert!(!app.busy());
    let stopped = screen(&app, 80, 24);
    assert!(stopped.contains("search stopped"), "{stopped}");
    // The cancelled statement's answer arrives late: nothing changes.
    app.update(data(Response::Page {
        slot: Slot::Search,
        seq,
        result: Err(modcon::db::DataError::Cancelled),
    }));
    assert!(app.search.list.error.is_none());
    assert!(screen(&app, 80, 24).contains("search stopped"));

    // The console goes on: / searches again, with a fresh interrupt.
    app.update(ch('/'));
    for _ in 0.."slow text".len() {
        app.update(key(KeyCode::Backspace));
    }
    typed(&mut app, "other");
    let requests = app.update(key(KeyCode::Enter));
    let again = requests.iter().find_map(|r| match r {
        Request::Load {
            slot: Slot::Search,
            query: Query::ContentSearch {
                text, interrupt, ..
            },
            ..
        } => Some((text.clone(), interrupt.is_stopped())),
        _ => None,
    });
    assert_eq!(again, Some(("other".to_string(), false)));
}

#[test]
fn capital_f_opens_the_command_line_ready_for_a_search() {
    let mut app = signed_in((80, 24));
    app.update(ch('F'));
    let prompt = app.prompt.as_ref().expect("F opens the command line");
    assert_eq!(prompt.input.value(), "search ");
    typed(&mut app, "http");
    let requests = app.update(key(KeyCode::Enter));
    assert!(requests.iter().any(|r| matches!(
        r,
        Request::Load {
            slot: Slot::Search,
            ..
        }
    )));
    assert_eq!(app.tab, Tab::Search);
}
