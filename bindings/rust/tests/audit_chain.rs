// The audit log's hash chain (issue 15): checkpoints, verify_extends, the
// audit key and the checkpoint closure.
use std::sync::{Arc, Mutex};

use hotstate::{AuditCheckpoint, Database, OpenOptions, StateSnapshot};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn snapshot(count: i64) -> StateSnapshot {
    StateSnapshot::new("p", "1.0.0").with_data("count", &count)
}

fn is_hex64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A fresh directory of its own under the system's temporary one.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hotstate-rust-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_head_after_saves() {
    let db = Database::open(":memory:").unwrap();
    let empty = db.audit_head().unwrap();
    assert_eq!((empty.event_id, empty.chain_hash.as_str(), empty.event_count), (0, GENESIS, 0));

    db.save(&snapshot(1)).unwrap();
    db.save(&snapshot(2)).unwrap();
    let head = db.audit_head().unwrap();
    assert!(is_hex64(&head.chain_hash), "{}", head.chain_hash);
    assert_ne!(head.chain_hash, GENESIS);
    assert!(head.event_count >= 2);
    // No prune: every event of the log is in the chain, the head the newest.
    let events = db.audit_events(None, None, None, 0, false).unwrap();
    assert_eq!(head.event_count, events.len() as u64);
    assert_eq!(head.event_id, events.last().unwrap().id);
    assert_eq!(head.time_us, events.last().unwrap().time_us);
    assert_eq!(head.signature, None); // no key
    assert_eq!(head.to_string(), format!("{}:{}", head.event_id, head.chain_hash));
}

#[test]
fn checkpoints_as_text() {
    let hash = "AB".repeat(32);
    let parsed: AuditCheckpoint = format!("42:{}", hash).parse().unwrap();
    assert_eq!(parsed.event_id, 42);
    assert_eq!(parsed.chain_hash, "ab".repeat(32)); // kept in lowercase
    assert_eq!((parsed.event_count, parsed.time_us, parsed.signature.clone()), (0, 0, None));
    assert_eq!(parsed.to_string().parse::<AuditCheckpoint>().unwrap(), parsed);
    for bad in ["", "42", ":", "x:0", "+1:0", "-1:0", "1:abc", "18446744073709551616:0"] {
        let text = bad.replace(":0", &format!(":{}", GENESIS));
        let error = text.parse::<AuditCheckpoint>().unwrap_err();
        assert_eq!(error.name, "InvalidArgument", "{:?}", text);
        assert!(error.message.contains("ID:HASH"), "{}", error.message);
    }
    let bad_hex = format!("1:{}g", &GENESIS[1..]);
    assert_eq!(bad_hex.parse::<AuditCheckpoint>().unwrap_err().name, "InvalidArgument");
}

#[test]
fn the_log_extends_its_head_and_a_tampered_hash_fails() {
    let db = Database::open(":memory:").unwrap();
    db.save(&snapshot(1)).unwrap();
    db.save(&snapshot(2)).unwrap();
    let head = db.audit_head().unwrap();

    let report = db.verify_extends(&head).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert!(report.problems.is_empty());
    assert_eq!(report.audit_head, head);
    assert_eq!(report.unchained_events, 0);
    assert!(report.schema_version >= 7);
    assert_eq!(db.verify_report().unwrap(), report); // the same report without a checkpoint
    assert!(db.verify().unwrap().is_empty()); // the problems alone, as before

    // Later writes: the log still extends the older checkpoint, also as text.
    db.save(&snapshot(3)).unwrap();
    let from_text: AuditCheckpoint = head.to_string().parse().unwrap();
    let later = db.verify_extends(&from_text).unwrap();
    assert!(later.ok, "{:?}", later.problems);
    assert!(later.audit_head.event_id > head.event_id);

    // A chain hash that differs: a problem in the report, not an Err.
    let mut tampered = head.clone();
    let last = if tampered.chain_hash.ends_with('0') { "1" } else { "0" };
    tampered.chain_hash.replace_range(63.., last);
    let report = db.verify_extends(&tampered).unwrap();
    assert!(!report.ok);
    assert!(report.problems.iter().any(|p| p.contains("does not extend checkpoint")), "{:?}", report.problems);
    assert!(report.problems.iter().any(|p| p.contains(&tampered.to_string())), "{:?}", report.problems);

    // A checkpoint beyond the log's end: its newest events were removed.
    let beyond = AuditCheckpoint { event_id: head.event_id + 1000, ..head.clone() };
    let report = db.verify_extends(&beyond).unwrap();
    assert!(!report.ok);
    assert!(report.problems.iter().any(|p| p.contains("does not extend checkpoint")), "{:?}", report.problems);

    // A hash the C API cannot take as one is refused there too.
    let broken = AuditCheckpoint { chain_hash: "xyz".to_string(), ..head };
    assert_eq!(db.verify_extends(&broken).unwrap_err().name, "InvalidArgument");
}

#[test]
fn a_keyed_database_signs_its_checkpoints_and_hands_them_over() {
    let dir = temp_dir("audit-keyed");
    let path = dir.join("keyed.db").to_string_lossy().into_owned();
    let key: Vec<u8> = (0u8..32).collect(); // a NUL among them
    let seen: Arc<Mutex<Vec<AuditCheckpoint>>> = Arc::default();
    {
        let sink = Arc::clone(&seen);
        let db = OpenOptions::new()
            .audit_key(&key)
            .on_audit_checkpoint(move |checkpoint| sink.lock().unwrap().push(checkpoint.clone()))
            .open(&path)
            .unwrap();
        db.save(&snapshot(1)).unwrap();
        db.save(&snapshot(2)).unwrap();
        let head = db.audit_head().unwrap();
        let signature = head.signature.clone().expect("a keyed head is signed");
        assert!(is_hex64(&signature), "{}", signature);
        {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 2); // one per write
            assert_eq!(seen.last(), Some(&head));
            assert!(seen.iter().all(|c| c.signature.is_some()));
            assert!(seen[0].event_id < seen[1].event_id);
        }
        let report = db.verify_extends(&head).unwrap();
        assert!(report.ok, "{:?}", report.problems);
        assert_eq!(report.audit_head.signature, Some(signature));
        db.verify_report().unwrap();
        assert_eq!(seen.lock().unwrap().len(), 2); // reads hand over nothing
    }
    // The same file with another key: its signatures do not check.
    let other = OpenOptions::new().audit_key(b"another key").open(&path).unwrap();
    let report = other.verify_report().unwrap();
    assert!(!report.ok);
    assert!(!report.problems.is_empty());
    drop(other);
    // Opened again with its key, it is sound.
    assert!(Database::options().audit_key(&key).open(&path).unwrap().verify_report().unwrap().ok);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn checkpoints_every_n_events_and_a_panicking_closure() {
    let calls = Arc::new(Mutex::new(Vec::<u64>::new()));
    let sink = Arc::clone(&calls);
    let db = OpenOptions::new()
        .audit_checkpoint_every(3)
        .on_audit_checkpoint(move |checkpoint| sink.lock().unwrap().push(checkpoint.event_count))
        .open(":memory:")
        .unwrap();
    for i in 1..=7 {
        db.save(&snapshot(i)).unwrap();
    }
    assert_eq!(*calls.lock().unwrap(), [1, 4, 7]);
    assert_eq!(db.audit_head().unwrap().signature, None);

    // A closure that panics: caught, nothing unwinds into C, the write stands.
    let db = OpenOptions::new().on_audit_checkpoint(|_| panic!("boom")).open(":memory:").unwrap();
    db.save(&snapshot(1)).unwrap();
    db.save(&snapshot(2)).unwrap();
    assert_eq!(db.load("p").unwrap().unwrap().get::<i64>("count"), Some(2));
    assert!(db.verify_report().unwrap().ok);
}
