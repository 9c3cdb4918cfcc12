//! The one error type of the library.
//!
//! Every error carries the context a user needs to act on it (the file, and where it applies the row and
//! column), so that `main` can report it in one place and map it to an exit code. Library code adds
//! context where it knows it and never prints.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in an input an error happened. Rows are 1-based data rows (the header is not counted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub row: Option<u64>,
    pub column: Option<String>,
}

impl Location {
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location {
            file: file.into(),
            row: None,
            column: None,
        }
    }

    pub fn row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column '{column}'")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An input file is unusable as a whole (missing required column, unreadable format, ...).
    #[error("{location}: {message}")]
    Input { location: Location, message: String },
    /// The pipeline file is invalid; each problem carries its line.
    #[error("{}", format_diagnostics(.file, .problems))]
    Pipeline {
        file: PathBuf,
        problems: Vec<crate::pipeline::Diagnostic>,
    },
    /// A model could not be found, fetched, verified or run.
    #[error("model: {0}")]
    Model(String),
    /// The command line or options are inconsistent.
    #[error("{0}")]
    Usage(String),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
}

fn format_diagnostics(file: &Path, problems: &[crate::pipeline::Diagnostic]) -> String {
    let mut out = format!("{} is not a valid pipeline:", file.display());
    for p in problems {
        out.push_str(&format!("\n  {}:{p}", file.display()));
    }
    out
}

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub fn input(location: Location, message: impl Into<String>) -> Self {
        Error::Input {
            location,
            message: message.into(),
        }
    }

    pub fn model(message: impl Into<String>) -> Self {
        Error::Model(message.into())
    }

    /// The process exit code `main` uses for this error: 2 for bad usage or configuration,
    /// 3 for unusable input, 4 for model problems, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Pipeline { .. } => 2,
            Error::Input { .. } => 3,
            Error::Model(_) | Error::Candle(_) => 4,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds a path to I/O errors: `fs::read(p).at(p)?`.
pub trait IoContext<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::result::Result<T, std::io::Error> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
