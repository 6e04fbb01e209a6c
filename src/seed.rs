//! Data to work on: the `--demo` database (small, deterministic, with hostile text among
//! ordinary content) and `modcon seed` (any size, either backend, for benchmarks).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::db::Id;

use crate::db::auth::hash_password;
use crate::db::insert::{
    Batch, NewAppSession, NewBook, NewChatMessage, NewContent, NewGuild, NewMember,
    NewPrivateMessage, NewSession, NewSetting, NewUser,
};
use crate::db::{DataError, Db, Role};

/// The demo operators, shown on the sign-in screen of a `--demo` console.
pub const DEMO_OPERATORS: [(&str, &str, Role); 2] = [
    ("admin", "admin-demo", Role::Admin),
    ("mod", "mod-demo", Role::Moderator),
];

/// Text that attacks terminals and eyes: every string here must render harmlessly.
pub const HOSTILE_TEXTS: &[&str] = &[
    "\x1b]0;you have been pwned\x07retitled the terminal",
    "\x1b[2J\x1b[Hcleared your screen",
    "\x1b[31mred\x1b[0m and \x1b[5mblinking\x1b[0m",
    "moves \x1b[10A the cursor \x1b[999C away",
    "\x1b]8;;https://evil.example/\x07innocent link\x1b]8;;\x07",
    "8-bit \u{9b}31m CSI and \u{9d}0;title\u{9c} OSC",
    "invoice_\u{202e}fdp.exe",
    "\u{2067}isolated\u{2069} bidi \u{200f}marks",
    "zero\u{200b}width\u{200d}joiner\u{feff}bom",
    "emoji 🦀🔥👨\u{200d}👩\u{200d}👧 family",
    "日本語のコメントです。とても長い文章。",
    "한국어 댓글 그리고 中文评论",
    "Z̷̢̛a̸͇͝l̵̰̾g̶̣̈́o̷̡͠ text",
    "tab\there\tand\r\ncarriage returns\rover",
    "bell \x07\x07\x07 and backspace \x08\x08\x08",
    "'; drop table users; --",
    "%_ wildcard \\ text",
];

/// A small deterministic generator (splitmix64): the demo is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn uuid(&mut self) -> Id {
        let hi = self.next().to_le_bytes();
        let lo = self.next().to_le_bytes();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi);
        bytes[8..].copy_from_slice(&lo);
        Id::from(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "ana", "ben", "chen", "dana", "eli", "fatima", "gus", "hana", "ivan", "jo", "kai", "lena",
    "milo", "nora", "omar", "pia", "quinn", "rosa", "sam", "tara", "uma", "vik", "wen", "yusuf",
    "zoe",
];
const TOPICS: &[&str] = &[
    "travel plans",
    "python help",
    "recipe ideas",
    "book club",
    "resume review",
    "math homework",
    "garden layout",
    "poem draft",
    "bug report",
    "gift ideas",
];
const MODELS: &[&str] = &["gpt-small", "gpt-large", "llama-70b", "mistral-7b"];
const BOOKS: &[(&str, &str)] = &[
    ("The Long Afternoon", "M. Ortega"),
    ("Salt and Iron", "K. Adeyemi"),
    ("Quiet Machines", "L. Brandt"),
    ("北の星", "佐藤 健"),
    ("A Field Guide to Moss", "R. Quill"),
    ("Night Trains", "S. Varga"),
    ("The Cartographer's Daughter", "E. Lindqvist"),
    ("Small Gods of the Kitchen", "P. Nair"),
    ("Rivers Remember", "T. Okafor"),
    ("Glass Orchard", "H. Moreau"),
    ("The Last Lighthouse", "D. Kowalski"),
    ("Hollow Crown Rising", "J. Abernathy"),
];
const SAYINGS: &[&str] = &[
    "Loved it, the ending surprised me.",
    "Could not finish it, too slow in the middle.",
    "The translation is excellent.",
    "Does anyone know if there is a sequel?",
    "Chapter 7 is the best thing I have read this year.",
    "Buy cheap followers at spam.example!!!",
    "Meh. Characters were flat.",
    "My book club argued about this one for two hours.",
];

/// Creates the demo data if the database has no users yet. Returns true if it seeded.
pub async fn seed_demo_if_empty(db: &Db) -> Result<bool, DataError> {
    if db
        .query_i64("select count(*) from {@users}", &[])
        .await?
        .unwrap_or(0)
        > 0
    {
        return Ok(false);
    }
    let batch = demo_batch(Utc::now()).await?;
    batch.insert(db).await?;
    Ok(true)
}

async fn demo_batch(now: DateTime<Utc>) -> Result<Batch, DataError> {
    let mut rng = Rng(0x6d6f_6463_6f6e);
    let mut batch = Batch::default();
    let ago = |rng: &mut Rng, days: i64| {
        now - Duration::minutes(rng.below((days * 24 * 60) as usize) as i64 + 1)
    };

    // Operators and special accounts.
    for (name, password, role) in DEMO_OPERATORS {
        let mut u = NewUser::new(name, role);
        u.id = rng.uuid();
        u.password_hash = Some(hash_password(password).await?);
        u.created_at = now - Duration::days(400);
        batch.users.push(u);
    }
    let mut specials = vec![
        ("ops-lead", Role::Admin, false, false),
        ("platform-owner", Role::Admin, true, false),
        ("mara", Role::Moderator, false, false),
        ("kenji", Role::Moderator, false, false),
        ("sync-bot", Role::User, false, true),
    ];
    for (name, role, protected, service) in specials.drain(..) {
        let mut u = NewUser::new(name, role);
        u.id = rng.uuid();
        u.is_protected = protected;
        u.is_service = service;
        u.created_at = now - Duration::days(300);
        batch.users.push(u);
    }
    // Members of the platform, a few with hostile names.
    let hostile_names = [
        "evil\u{202e}nimda",
        "ad\u{200b}min",
        "\x1b]0;owned\x07mallory",
        "山田太郎",
        "🦀crab_fan",
        "z̷a̸l̵g̶o̷",
    ];
    let mut member_ids = Vec::new();
    for name in hostile_names {
        let mut u = NewUser::new(name, Role::User);
        u.id = rng.uuid();
        u.email = format!("user{}@example.invalid", member_ids.len());
        u.created_at = ago(&mut rng, 200);
        member_ids.push(u.id.clone());
        batch.users.push(u);
    }
    for i in 0..47 {
        let name = format!("{}{}", FIRST[i % FIRST.len()], 10 + i);
        let mut u = NewUser::new(&name, Role::User);
        u.id = rng.uuid();
        u.is_active = !rng.chance(6);
        u.created_at = ago(&mut rng, 365);
        member_ids.push(u.id.clone());
        batch.users.push(u);
    }

    // Guilds, owned by members.
    let guild_names = [
        "Book Lovers",
        "Night Owls",
        "Rustaceans",
        "日本語サークル",
        "\u{202e}sdliuG kcaH",
        "Gardeners United",
    ];
    let mut guild_ids = Vec::new();
    for (i, name) in guild_names.iter().enumerate() {
        let id = rng.uuid();
        let owner = member_ids[i * 3].clone();
        batch.guilds.push(NewGuild {
            id: id.clone(),
            name: (*name).to_string(),
            owner_id: Some(owner.clone()),
            created_at: ago(&mut rng, 250),
        });
        batch.members.push(NewMember {
            guild_id: id.clone(),
            user_id: owner.clone(),
            role: "owner",
        });
        let mut joined = vec![owner];
        for _ in 0..(5 + rng.below(15)) {
            let user = member_ids[rng.below(member_ids.len())].clone();
            if !joined.contains(&user) {
                joined.push(user.clone());
                batch.members.push(NewMember {
                    guild_id: id.clone(),
                    user_id: user,
                    role: if rng.chance(15) { "admin" } else { "member" },
                });
            }
        }
        for (key, value) in [
            ("prefix", "!"),
            ("language", "en"),
            ("welcome", "Welcome aboard"),
        ] {
            batch.settings.push(NewSetting {
                guild_id: id.clone(),
                key: key.into(),
                value: value.into(),
            });
        }
        guild_ids.push(id);
    }

    // Chat sessions, some orphaned by the legacy bug, with messages.
    for i in 0..320 {
        let id = rng.uuid();
        let author = member_ids[rng.below(member_ids.len())].clone();
        let orphan = rng.chance(8);
        let created = ago(&mut rng, 90);
        let hostile_title = i % 23 == 0;
        batch.sessions.push(NewSession {
            id: id.clone(),
            user_id: if orphan { None } else { Some(author.clone()) },
            guild_id: if rng.chance(25) {
                Some(guild_ids[rng.below(guild_ids.len())].clone())
            } else {
                None
            },
            model: rng.pick(MODELS).into(),
            title: if hostile_title {
                HOSTILE_TEXTS[i % HOSTILE_TEXTS.len()].into()
            } else {
                format!("{} #{}", rng.pick(TOPICS), i)
            },
            created_at: created,
        });
        // Some orphans have no user message at all, so they cannot be repaired.
        let messages = if orphan && rng.chance(30) {
            1
        } else {
            4 + rng.below(22)
        };
        for m in 0..messages {
            let from_user = m % 2 == 0 && !(orphan && messages == 1);
            let content = if rng.chance(4) {
                HOSTILE_TEXTS[rng.below(HOSTILE_TEXTS.len())].to_string()
            } else if from_user {
                format!("Can you help me with {}? (part {m})", rng.pick(TOPICS))
            } else {
                format!(
                    "Sure. Here is a thought about {}: {}",
                    rng.pick(TOPICS),
                    rng.pick(SAYINGS)
                )
            };
            batch.chat_messages.push(NewChatMessage {
                id: rng.uuid(),
                session_id: id.clone(),
                author_id: if from_user {
                    Some(author.clone())
                } else {
                    None
                },
                role: if from_user {
                    "user"
                } else if m == 1 && rng.chance(10) {
                    "tool"
                } else {
                    "assistant"
                },
                content,
                created_at: created + Duration::seconds(m as i64 * 30),
            });
        }
    }
    // One very long message, the kind that once broke a list view.
    if let Some(first) = batch.sessions.first() {
        batch.chat_messages.push(NewChatMessage {
            id: rng.uuid(),
            session_id: first.id.clone(),
            author_id: first.user_id.clone(),
            role: "user",
            content: "A".repeat(20_000),
            created_at: first.created_at + Duration::hours(1),
        });
    }

    // Private messages.
    for i in 0..420 {
        let sender = member_ids[rng.below(member_ids.len())].clone();
        let recipient = member_ids[rng.below(member_ids.len())].clone();
        batch.private_messages.push(NewPrivateMessage {
            id: rng.uuid(),
            sender_id: Some(sender),
            recipient_id: Some(recipient),
            content: if i % 17 == 0 {
                HOSTILE_TEXTS[i % HOSTILE_TEXTS.len()].into()
            } else {
                format!("hey, did you read {}?", BOOKS[rng.below(BOOKS.len())].0)
            },
            created_at: ago(&mut rng, 60),
        });
    }

    // Books with comments and reviews.
    let mut book_ids = Vec::new();
    for (title, author) in BOOKS {
        let id = rng.uuid();
        book_ids.push(id.clone());
        batch.books.push(NewBook {
            id,
            title: (*title).into(),
            author: (*author).into(),
        });
    }
    for i in 0..160 {
        batch.comments.push(NewContent {
            id: rng.uuid(),
            book_id: book_ids[rng.below(book_ids.len())].clone(),
            user_id: if rng.chance(5) {
                None
            } else {
                Some(member_ids[rng.below(member_ids.len())].clone())
            },
            rating: None,
            content: if i % 13 == 0 {
                HOSTILE_TEXTS[i % HOSTILE_TEXTS.len()].into()
            } else if i % 29 == 0 {
                format!("{}\nSecond paragraph.\nThird.", rng.pick(SAYINGS))
            } else {
                rng.pick(SAYINGS).into()
            },
            created_at: ago(&mut rng, 120),
        });
    }
    for i in 0..110 {
        batch.reviews.push(NewContent {
            id: rng.uuid(),
            book_id: book_ids[rng.below(book_ids.len())].clone(),
            user_id: Some(member_ids[rng.below(member_ids.len())].clone()),
            rating: Some(1 + rng.below(5) as i64),
            content: if i % 11 == 0 {
                HOSTILE_TEXTS[(i + 3) % HOSTILE_TEXTS.len()].into()
            } else {
                rng.pick(SAYINGS).into()
            },
            created_at: ago(&mut rng, 120),
        });
    }

    // Platform login sessions, some opened in a guild.
    for _ in 0..80 {
        let created = ago(&mut rng, 7);
        batch.app_sessions.push(NewAppSession {
            id: rng.uuid(),
            user_id: member_ids[rng.below(member_ids.len())].clone(),
            guild_id: if rng.chance(40) {
                Some(guild_ids[rng.below(guild_ids.len())].clone())
            } else {
                None
            },
            created_at: created,
            expires_at: created + Duration::days(14),
        });
    }
    add_lookalikes(&mut batch, now);
    Ok(batch)
}

/// Names that read `admin` where invisible characters are invisible: hidden fillers, tags,
/// format characters, a trailing space, a Cyrillic `а`.
pub const ADMIN_LOOKALIKES: [&str; 8] = [
    "admin\u{3164}",
    "admin\u{ffa0}",
    "admin\u{e0041}\u{e007f}",
    "ad\u{fff9}min\u{fffb}",
    "ad\u{206a}min\u{206f}",
    "ad\u{1d173}min",
    "admin ",
    "\u{430}dmin",
];

/// Accounts and guilds that impersonate the admin. Their own generator, so the rest of the
/// demo stays as it was.
fn add_lookalikes(batch: &mut Batch, now: DateTime<Utc>) {
    let mut rng = Rng(0x6c6f_6f6b_616c_696b);
    for (i, name) in ADMIN_LOOKALIKES.into_iter().enumerate() {
        let mut u = NewUser::new(name, Role::User);
        u.id = rng.uuid();
        u.email = format!("lookalike{i}@example.invalid");
        u.created_at = now - Duration::days(3 + i as i64);
        batch.users.push(u);
    }
    let owner = batch.users.last().map(|u| u.id.clone());
    for name in ["admin", "admin\u{3164}", "B\u{43e}\u{43e}k Lovers"] {
        batch.guilds.push(NewGuild {
            id: rng.uuid(),
            name: name.to_string(),
            owner_id: owner.clone(),
            created_at: now - Duration::days(2),
        });
    }
}

/// How much `modcon seed` adds.
#[derive(Debug, Clone, Copy)]
pub struct ScaleSpec {
    pub users: usize,
    pub guilds: usize,
    pub sessions: usize,
    pub messages_per_session: usize,
    pub orphan_percent: u64,
}

/// What `modcon seed` added.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Seeded {
    pub users: usize,
    pub guilds: usize,
    pub sessions: usize,
    pub messages: usize,
}

/// Sessions written per transaction: large enough to be fast, small enough that
/// progress shows and memory stays flat.
const SESSIONS_PER_CHUNK: usize = 2_000;

/// Adds generated rows at scale, in chunks, reporting progress after each chunk.
pub async fn seed_scale(
    db: &Db,
    spec: ScaleSpec,
    mut progress: impl FnMut(&Seeded),
) -> Result<Seeded, DataError> {
    let mut rng = Rng(Utc::now().timestamp_nanos_opt().unwrap_or(7) as u64);
    let now = Utc::now();
    let run = &Uuid::new_v4().simple().to_string()[..8];
    let mut done = Seeded::default();

    let mut user_ids = Vec::with_capacity(spec.users);
    let mut batch = Batch::default();
    for i in 0..spec.users {
        let mut u = NewUser::new(&format!("u{run}_{i}"), Role::User);
        u.id = rng.uuid();
        u.created_at = now - Duration::seconds(rng.below(90 * 86_400) as i64);
        user_ids.push(u.id.clone());
        batch.users.push(u);
    }
    let mut guild_ids = Vec::with_capacity(spec.guilds);
    for i in 0..spec.guilds {
        let id = rng.uuid();
        guild_ids.push(id.clone());
        batch.guilds.push(NewGuild {
            id,
            name: format!("guild {run} {i}"),
            owner_id: user_ids.get(rng.below(user_ids.len())).cloned(),
            created_at: now - Duration::seconds(rng.below(90 * 86_400) as i64),
        });
    }
    batch.insert(db).await?;
    done.users = spec.users;
    done.guilds = spec.guilds;
    progress(&done);

    let mut remaining = spec.sessions;
    while remaining > 0 {
        let n = remaining.min(SESSIONS_PER_CHUNK);
        let mut batch = Batch::default();
        for _ in 0..n {
            let id = rng.uuid();
            let owner = user_ids.get(rng.below(user_ids.len())).cloned();
            let orphan = owner.is_none() || rng.chance(spec.orphan_percent);
            let created = now - Duration::seconds(rng.below(90 * 86_400) as i64);
            batch.sessions.push(NewSession {
                id: id.clone(),
                user_id: if orphan { None } else { owner.clone() },
                guild_id: if !guild_ids.is_empty() && rng.chance(20) {
                    Some(guild_ids[rng.below(guild_ids.len())].clone())
                } else {
                    None
                },
                model: rng.pick(MODELS).into(),
                title: format!(
                    "{} {}",
                    rng.pick(TOPICS),
                    done.sessions + batch.sessions.len()
                ),
                created_at: created,
            });
            for m in 0..spec.messages_per_session {
                let from_user = m % 2 == 0;
                batch.chat_messages.push(NewChatMessage {
                    id: rng.uuid(),
                    session_id: id.clone(),
                    author_id: if from_user { owner.clone() } else { None },
                    role: if from_user { "user" } else { "assistant" },
                    content: if from_user {
                        format!("question {m} about {}", rng.pick(TOPICS))
                    } else {
                        rng.pick(SAYINGS).to_string()
                    },
                    created_at: created + Duration::seconds(m as i64),
                });
            }
        }
        batch.insert(db).await?;
        remaining -= n;
        done.sessions += n;
        done.messages += n * spec.messages_per_session;
        progress(&done);
    }
    Ok(done)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic() {
        let (mut a, mut b) = (Rng(42), Rng(42));
        for _ in 0..100 {
            assert_eq!(a.next(), b.next());
        }
        assert_eq!(Rng(1).uuid(), Rng(1).uuid());
        assert_eq!(Rng(1).uuid().as_uuid().unwrap().get_version_num(), 4);
    }
}
