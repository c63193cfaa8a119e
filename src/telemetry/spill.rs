//! The spill file: usage that cannot reach the database (it is down, or the channel to the
//! writer is full) is appended here as JSON lines, in order, and replayed into the database
//! once it is back. A plain file in the data folder rather than an embedded queue crate: it
//! needs no new dependency, an operator can read it with `less`, and replay is safe to repeat
//! because every ledger row has its own id (a row already stored is skipped, with its spend).
//!
//! Appends are flushed to the operating system before `append` returns, so a process killed
//! with `kill -9` keeps them; `fsync` would also survive a power cut but costs milliseconds per
//! append, and the file is only written while the database is unreachable.

use super::conditions::ConditionChange;
use super::{BudgetAlert, UsageEvent};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const FILE_NAME: &str = "usage-spill.jsonl";

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// Boxed: a usage event is several times the size of the other records.
    Usage(Box<UsageEvent>),
    Alert(BudgetAlert),
    Condition(ConditionChange),
}

#[derive(Debug, thiserror::Error)]
#[error("usage spill file {path}: {source}")]
pub struct SpillError {
    path: String,
    source: std::io::Error,
}

impl SpillError {
    pub fn new(path: &Path, source: std::io::Error) -> SpillError {
        SpillError {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Shared by the writer task and, when the channel is full, the proxy itself; the lock is
/// taken only while the database is unreachable or the channel full, never on the normal path.
#[derive(Clone)]
pub struct Spill {
    path: PathBuf,
    file: Arc<Mutex<Option<File>>>,
    /// Bytes in the file, for `/metrics`; 0 means nothing waits for replay.
    size: Arc<AtomicU64>,
}

impl Spill {
    /// Opens (or creates) the file in `data_dir`; what an earlier run left there is replayed.
    pub fn open(data_dir: &Path) -> Result<Spill, SpillError> {
        let path = data_dir.join(FILE_NAME);
        let error = |source| SpillError::new(&path, source);
        std::fs::create_dir_all(data_dir).map_err(error)?;
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(error)?;
        let mut size = file.metadata().map_err(error)?.len();
        if size > 0 && !ends_with_newline(&mut file).map_err(error)? {
            // A crash cut the last line; end it so the next append starts a line of its own.
            file.write_all(b"\n").map_err(error)?;
            size += 1;
        }
        Ok(Spill {
            path,
            file: Arc::new(Mutex::new(Some(file))),
            size: Arc::new(AtomicU64::new(size)),
        })
    }

    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.size() == 0
    }

    fn error(&self, source: std::io::Error) -> SpillError {
        SpillError::new(&self.path, source)
    }

    fn with_file<R>(
        &self,
        use_file: impl FnOnce(&mut File) -> std::io::Result<R>,
    ) -> Result<R, SpillError> {
        // A poisoned lock only means another thread panicked mid-append; the file is still
        // line-based and replay skips a torn line.
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let file = guard
            .as_mut()
            .ok_or_else(|| self.error(std::io::Error::other("closed")))?;
        use_file(file).map_err(|e| self.error(e))
    }

    /// Appends `records` as one write, after everything appended before.
    pub fn append(&self, records: &[Record]) -> Result<(), SpillError> {
        let mut text = Vec::new();
        for record in records {
            serde_json::to_writer(&mut text, record).map_err(|e| self.error(e.into()))?;
            text.push(b'\n');
        }
        self.with_file(|file| {
            file.write_all(&text)?;
            file.flush()
        })?;
        self.size.fetch_add(text.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Up to `max` records from byte `offset`, and the offset after them. A line that does not
    /// parse (torn by a crash mid-write) is skipped and logged.
    pub fn read_from(&self, offset: u64, max: usize) -> Result<(Vec<Record>, u64), SpillError> {
        self.with_file(|file| {
            file.seek(SeekFrom::Start(offset))?;
            let mut reader = BufReader::new(&*file);
            let mut records = Vec::new();
            let mut next = offset;
            let mut line = String::new();
            while records.len() < max {
                line.clear();
                let read = reader.read_line(&mut line)?;
                if read == 0 || !line.ends_with('\n') {
                    break;
                }
                next += read as u64;
                match serde_json::from_str(line.trim_end()) {
                    Ok(record) => records.push(record),
                    Err(e) => tracing::error!(offset = next, error = %e, "skipped an unreadable line of the usage spill file"),
                }
            }
            Ok((records, next))
        })
    }

    /// Empties the file if nothing was appended past `replayed` (everything is in the database);
    /// returns whether it did.
    pub fn truncate_if_replayed(&self, replayed: u64) -> Result<bool, SpillError> {
        let emptied = self.with_file(|file| {
            if file.metadata()?.len() > replayed {
                return Ok(false);
            }
            file.set_len(0)?;
            Ok(true)
        })?;
        if emptied {
            self.size.store(0, Ordering::Relaxed);
        }
        Ok(emptied)
    }
}

fn ends_with_newline(file: &mut File) -> std::io::Result<bool> {
    use std::io::Read;
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::Money;

    pub(crate) fn event(id: &str) -> UsageEvent {
        UsageEvent {
            id: id.into(),
            at_ms: 1,
            key_id: "k".into(),
            logical_model: "m".into(),
            policy: None,
            arm: None,
            step_type: "inference".into(),
            purpose: "chat".into(),
            account: Some("a".into()),
            provider_model: Some("p".into()),
            stream: false,
            status: 200,
            attempts: 1,
            prompt_tokens: 3,
            completion_tokens: 4,
            cost: Money::from_micros(7),
            latency_ms: 5,
            error: None,
            trail: None,
            cache: None,
            saved: Money::ZERO,
        }
    }

    #[test]
    fn lines_written_before_the_cache_and_key_alerts_still_read() {
        let usage = r#"{"usage":{"id":"1","at_ms":1,"key_id":"k","logical_model":"m","policy":null,"step_type":"inference","purpose":"chat","account":"a","provider_model":"p","stream":false,"status":200,"attempts":1,"prompt_tokens":3,"completion_tokens":4,"cost":7,"latency_ms":5,"error":null,"trail":null}}"#;
        let read: Record = serde_json::from_str(usage).unwrap();
        assert_eq!(read, Record::Usage(Box::new(event("1"))));
        let alert = r#"{"alert":{"account":"a","month":"2026-11","threshold":50,"spent":1,"budget":2,"at_ms":1}}"#;
        let Record::Alert(alert) = serde_json::from_str(alert).unwrap() else {
            panic!("an alert")
        };
        assert_eq!(alert.subject, "");
    }

    #[test]
    fn records_come_back_in_order_across_reopen_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::open(dir.path()).unwrap();
        assert!(spill.is_empty());
        spill
            .append(&[
                Record::Usage(Box::new(event("1"))),
                Record::Usage(Box::new(event("2"))),
            ])
            .unwrap();
        spill
            .append(&[Record::Usage(Box::new(event("3")))])
            .unwrap();
        // A crash mid-write leaves half a line at the end.
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE_NAME))
            .unwrap();
        file.write_all(b"{\"usage\":{\"id\"").unwrap();
        drop(spill);

        let spill = Spill::open(dir.path()).unwrap();
        spill
            .append(&[Record::Usage(Box::new(event("4")))])
            .unwrap();
        let (first, offset) = spill.read_from(0, 2).unwrap();
        assert_eq!(
            first,
            vec![
                Record::Usage(Box::new(event("1"))),
                Record::Usage(Box::new(event("2")))
            ]
        );
        let (rest, end) = spill.read_from(offset, 10).unwrap();
        assert_eq!(
            rest,
            vec![
                Record::Usage(Box::new(event("3"))),
                Record::Usage(Box::new(event("4")))
            ]
        );
        assert!(!spill.truncate_if_replayed(offset).unwrap(), "not all read");
        assert!(spill.truncate_if_replayed(spill.size()).unwrap());
        assert_eq!(spill.size(), 0);
        assert!(end > offset);
        assert_eq!(spill.read_from(0, 10).unwrap().0, vec![]);
    }
}
