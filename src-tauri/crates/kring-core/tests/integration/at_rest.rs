//! Patient data at rest on the homeserver: Synapse's own database, read
//! directly, holds no client name, pseudo-BSN or BSN-like number in the
//! places a client's identity must never be (room state, account data,
//! profiles).

use crate::stack::Stack;

/// A 9-digit number that passes the BSN eleven test (elfproef).
fn bsn_like(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i - start == 9 {
            let d: Vec<i64> = bytes[start..i].iter().map(|b| i64::from(b - b'0')).collect();
            let sum: i64 = d[..8].iter().zip((2..=9).rev()).map(|(digit, weight)| weight * digit).sum::<i64>() - d[8];
            if sum % 11 == 0 {
                return Some(text[start..i].to_owned());
            }
        }
    }
    None
}

/// Reads Synapse's own database (the stack runs it on sqlite): the current
/// state of `rooms`, the account data, profiles and user-directory rows of
/// `users`. None of it may hold a needle, nor a BSN-like number.
pub(crate) async fn assert_nothing_in_cleartext(
    stack: &Stack,
    org: &str,
    rooms: &[&str],
    users: &[&str],
    needles: &[&str],
) {
    use sqlx::{Row, sqlite::SqliteConnectOptions};
    let path = stack.stack_dir.join(format!("hs-{org}")).join("homeserver.db");
    let options = SqliteConnectOptions::new().filename(&path).read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<(&str, String)> = Vec::new();
    let queries: [(&str, &'static str, &[&str]); 7] = [
        (
            "room state",
            "SELECT j.json FROM current_state_events c JOIN event_json j ON j.event_id = c.event_id WHERE c.room_id = ?",
            rooms,
        ),
        (
            "room stats",
            "SELECT coalesce(name,'') || ' ' || coalesce(topic,'') FROM room_stats_state WHERE room_id = ?",
            rooms,
        ),
        ("membership", "SELECT coalesce(display_name,'') FROM room_memberships WHERE room_id = ?", rooms),
        ("account data", "SELECT content FROM account_data WHERE user_id = ?", users),
        ("room account data", "SELECT content FROM room_account_data WHERE user_id = ?", users),
        (
            "profile",
            "SELECT coalesce(displayname,'') || ' ' || coalesce(CAST(fields AS TEXT),'') FROM profiles WHERE full_user_id = ?",
            users,
        ),
        ("user directory", "SELECT coalesce(display_name,'') FROM user_directory WHERE user_id = ?", users),
    ];
    for (what, sql, keys) in queries {
        for key in keys {
            for row in sqlx::query(sql).bind(*key).fetch_all(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}")) {
                let text: Option<String> = row.try_get(0).ok();
                rows.push((what, text.unwrap_or_default()));
            }
        }
    }
    assert!(
        rows.iter().any(|(what, text)| *what == "room state" && text.contains("m.room.create")),
        "the scan read the rooms' state"
    );
    for (what, text) in &rows {
        for needle in needles {
            assert!(!text.contains(needle), "cleartext client data in {what} at {org}");
        }
        assert_eq!(bsn_like(text), None, "a BSN-like number in {what} at {org}");
    }
}

#[test]
fn the_bsn_scan_knows_the_eleven_test() {
    assert_eq!(bsn_like("bsn 111222333 ts 1733312345678"), Some("111222333".into()));
    assert_eq!(bsn_like("uzi 900100101, room !abc123456789:hs"), None);
}
