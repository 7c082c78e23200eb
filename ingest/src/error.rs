//! Errors and the replay summary: what was read, derived and rejected, with each
//! rejection naming its file, line and field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A problem with one record of input. The rest of the input still flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line where the record starts, when the format has lines.
    pub line: Option<usize>,
    /// The field at fault (`metadata.uid`, `MESSAGE`), when one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Errors that stop a whole input (a file that cannot be opened at all).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file or folder could not be read (external: check the path and permissions).
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A Tapio Parquet or Arrow file could not be decoded (user input).
    #[error("{path}: {message}")]
    Decode {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Counts of one replay: nothing accepted is silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files opened.
    pub files: usize,
    /// Files passed over (container logs and other formats Tapio does not read), by reason.
    pub skipped_files: BTreeMap<String, usize>,
    /// Records read (objects, JSON lines, log lines that matched a format).
    pub records: usize,
    /// Events read as such (Kubernetes Events, journald entries, kernel lines, Tapio events).
    pub events_read: usize,
    /// Events derived from object state (a container's OOMKilled last state, ...).
    pub events_derived: usize,
    /// Duplicate events dropped (the same event id seen twice, e.g. a watch stream that
    /// repeats an Event with the same count).
    pub duplicates: usize,
    /// Topology relations.
    pub relations: usize,
    /// Kubernetes objects of kinds Tapio does not use, by kind.
    pub skipped_kinds: BTreeMap<String, usize>,
    /// Lines of text logs that matched no known format (not failures: most log lines
    /// are routine).
    pub unmatched_lines: usize,
    /// Records rejected, each with its reason.
    pub problems: Vec<Problem>,
}

impl Summary {
    /// Records rejected.
    pub fn rejected(&self) -> usize {
        self.problems.len()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} files, {} records: {} events read, {} derived, {} relations, {} duplicates, {} rejected",
            self.files,
            self.records,
            self.events_read,
            self.events_derived,
            self.relations,
            self.duplicates,
            self.rejected()
        )?;
        let skipped: usize = self.skipped_files.values().sum();
        if skipped > 0 {
            write!(f, ", {skipped} files skipped")?;
        }
        let kinds: usize = self.skipped_kinds.values().sum();
        if kinds > 0 {
            write!(f, ", {kinds} objects of unused kinds")?;
        }
        Ok(())
    }
}
