//! The usage journal: the request that produced a usage event appends it here itself, one
//! `write` to a file opened for appending (no lock of ours; the kernel orders appends), before
//! its answer is complete. So `kill -9` loses no event an app was answered for: the in-memory
//! channel to the writer may lose its tail, the journal does not.
//!
//! The journal is only read after a crash. It rolls to a new segment every `ROLL_INTERVAL`;
//! a segment is deleted once every event in it is stored (in the database or the spill file).
//! At start, segments a killed process left behind are moved into the spill file, whose replay
//! stores each event once (a ledger row already stored is skipped by its id).

use super::spill::{Record, Spill, SpillError};
use arc_swap::ArcSwap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PREFIX: &str = "usage-journal-";
/// How long a segment takes appends: about a second of traffic is kept twice (journal and
/// memory) at any time.
pub const ROLL_INTERVAL: Duration = Duration::from_secs(1);

/// A file of the journal. Requests hold an `Arc` of the segment they appended to until their
/// event is in the writer's channel, so the segment is not retired before that.
#[derive(Debug)]
pub struct Segment {
    path: PathBuf,
    file: File,
    bytes: AtomicU64,
}

impl Segment {
    fn create(path: PathBuf) -> std::io::Result<Segment> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        Ok(Segment {
            path,
            file,
            bytes: AtomicU64::new(0),
        })
    }

    /// Deletes the file: every event in it is stored.
    pub fn retire(&self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot delete a stored usage journal segment");
        }
    }
}

pub struct Journal {
    dir: PathBuf,
    /// Names this process's segments apart from any an earlier run left.
    started_ms: u128,
    next: AtomicU64,
    current: ArcSwap<Segment>,
}

impl Journal {
    /// Moves what an earlier run left in the journal into `spill` (to be replayed), then starts
    /// a new segment.
    pub fn open(data_dir: &Path, spill: &Spill) -> Result<Journal, SpillError> {
        let error = |source| SpillError::new(data_dir, source);
        let mut left = Vec::new();
        for entry in std::fs::read_dir(data_dir).map_err(error)? {
            let path = entry.map_err(error)?.path();
            let is_segment = path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(PREFIX) && name.ends_with(".jsonl"));
            if is_segment {
                left.push(path);
            }
        }
        left.sort();
        for path in left {
            let records = read_segment(&path).map_err(|e| SpillError::new(&path, e))?;
            tracing::warn!(
                path = %path.display(),
                events = records.len(),
                "usage journal left by a process that did not stop cleanly; replaying what the database lacks"
            );
            spill.append(&records)?;
            std::fs::remove_file(&path).map_err(|e| SpillError::new(&path, e))?;
        }
        let started_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let first = Segment::create(segment_path(data_dir, started_ms, 0)).map_err(error)?;
        Ok(Journal {
            dir: data_dir.to_path_buf(),
            started_ms,
            next: AtomicU64::new(1),
            current: ArcSwap::from_pointee(first),
        })
    }

    /// Appends one record; hold the returned segment until the record is handed to the writer.
    pub fn append(&self, record: &Record) -> std::io::Result<Arc<Segment>> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let segment = self.current.load_full();
        (&segment.file).write_all(&line)?;
        segment
            .bytes
            .fetch_add(line.len() as u64, Ordering::Relaxed);
        Ok(segment)
    }

    /// Starts a new segment when the current one has anything in it; returns the old one, to
    /// retire once every event in it is stored.
    pub fn roll(&self) -> std::io::Result<Option<Arc<Segment>>> {
        if self.current.load().bytes.load(Ordering::Relaxed) == 0 {
            return Ok(None);
        }
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let next = Segment::create(segment_path(&self.dir, self.started_ms, seq))?;
        Ok(Some(self.current.swap(Arc::new(next))))
    }
}

fn segment_path(dir: &Path, started_ms: u128, seq: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{started_ms:015}-{seq:09}.jsonl"))
}

/// The records of a segment; a line cut by the crash is skipped.
fn read_segment(path: &Path) -> std::io::Result<Vec<Record>> {
    let mut records = Vec::new();
    for line in BufReader::new(File::open(path)?).lines() {
        match serde_json::from_str(&line?) {
            Ok(record) => records.push(record),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "skipped a line cut by the crash")
            }
        }
    }
    Ok(records)
}

/// Waits until no request still holds `segment` (each has handed its event to the writer),
/// then returns it for the writer to retire after what came before it is stored.
pub async fn released(segment: Arc<Segment>) -> Arc<Segment> {
    while Arc::strong_count(&segment) > 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    segment
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::spill::tests::event;

    fn segments(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(PREFIX)
            })
            .count()
    }

    #[test]
    fn a_journal_left_by_a_crash_moves_into_the_spill_file_and_a_cut_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::open(dir.path()).unwrap();
        let journal = Journal::open(dir.path(), &spill).unwrap();
        journal
            .append(&Record::Usage(Box::new(event("1"))))
            .unwrap();
        let old = journal
            .roll()
            .unwrap()
            .expect("the first segment had an event");
        journal
            .append(&Record::Usage(Box::new(event("2"))))
            .unwrap();
        assert!(journal.roll().unwrap().is_some());
        assert!(journal.roll().unwrap().is_none(), "nothing appended since");
        // The crash: a half-written line at the end of a segment.
        let mut file = OpenOptions::new().append(true).open(&old.path).unwrap();
        file.write_all(b"{\"usage\":{\"id\"").unwrap();
        drop((journal, old));
        assert_eq!(segments(dir.path()), 3);
        assert!(spill.is_empty());

        let _journal = Journal::open(dir.path(), &spill).unwrap();
        let (records, _) = spill.read_from(0, 10).unwrap();
        assert_eq!(
            records,
            vec![
                Record::Usage(Box::new(event("1"))),
                Record::Usage(Box::new(event("2")))
            ]
        );
        assert_eq!(segments(dir.path()), 1, "only the new run's segment");
    }

    #[tokio::test]
    async fn a_segment_is_released_once_no_request_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::open(dir.path()).unwrap();
        let journal = Journal::open(dir.path(), &spill).unwrap();
        let held = journal
            .append(&Record::Usage(Box::new(event("1"))))
            .unwrap();
        let old = journal.roll().unwrap().unwrap();
        let waiting = tokio::spawn(released(old));
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiting.is_finished(), "a request still holds it");
        drop(held);
        let segment = waiting.await.unwrap();
        segment.retire();
        assert_eq!(segments(dir.path()), 1);
    }
}
