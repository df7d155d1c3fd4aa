//! The project file `actorc.toml`: where an editor's rule set is, and the sample actor whose
//! values it shows.
//!
//! ```toml
//! rules = "rules/rpg"                                          # a folder or a .stat file
//! sample = { actors = "examples/party.ndjson", actor = "warrior" } # optional
//! ```
//!
//! Paths are relative to the folder of the project file. `actor` may be left out when the
//! actors file holds one actor.

use crate::input::{Actor, InputLimits};
use crate::run::{DocumentReader, InputForm, PickError, pick_actor};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The project file's name.
pub const PROJECT_FILE: &str = "actorc.toml";

/// A project: its rule set and, optionally, a sample actor.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The project file itself (`None` for a project made in code).
    pub file: Option<PathBuf>,
    /// The rule set: a folder or a `.stat` file, absolute.
    pub rules: PathBuf,
    pub sample: Option<Sample>,
}

/// The actor whose values hover and inlay hints show.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// A JSON or NDJSON file of actors, absolute.
    pub actors: PathBuf,
    /// The id to pick; `None` when the file holds one actor.
    pub actor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rules: String,
    sample: Option<SampleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleFile {
    actors: String,
    actor: Option<String>,
}

impl Project {
    /// The project file in `dir` or its nearest ancestor folder that has one: `None` when no
    /// folder has one, `Some(Err)` when the one found cannot be read.
    pub fn discover(dir: &Path) -> Option<Result<Project, String>> {
        let file = dir.ancestors().map(|d| d.join(PROJECT_FILE)).find(|f| f.is_file())?;
        Some(Project::read(&file))
    }

    /// Reads the project file `path`.
    pub fn read(path: &Path) -> Result<Project, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Project::parse(path, &text)
    }

    /// The project of the text `text` of the project file `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Project, String> {
        let file: File = toml::from_str(text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(Project {
            file: Some(path.to_path_buf()),
            rules: base.join(file.rules),
            sample: file.sample.map(|s| Sample { actors: base.join(s.actors), actor: s.actor }),
        })
    }
}

impl Sample {
    /// Reads and parses the sample actor, as `actorc run --id` would pick it.
    pub fn load(&self) -> Result<Actor, String> {
        let path = &self.actors;
        let cannot = |e: std::io::Error| format!("cannot read actors from {}: {e}", path.display());
        let limits = InputLimits::default();
        let file = std::fs::File::open(path).map_err(cannot)?;
        let reader =
            DocumentReader::new(std::io::BufReader::new(file), InputForm::of_path(path), limits.max_line_bytes)
                .map_err(cannot)?;
        pick_actor(reader, self.actor.as_deref(), &limits).map_err(|e| match e {
            PickError::Read(e) => cannot(e),
            PickError::Input(e) => format!("{}: {e}", path.display()),
            PickError::NotFound(id) => format!("{} has no actor `{id}`", path.display()),
            PickError::Empty => format!("{} holds no actor", path.display()),
            PickError::Repeated(id) => format!("{} has actor `{id}` more than once", path.display()),
            PickError::Several(n) => {
                format!("{} holds {n} actors: name one with `actor = \"…\"` in the sample", path.display())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_project_file() {
        let p = Project::parse(
            Path::new("/game/actorc.toml"),
            "rules = \"rules/rpg\"\nsample = { actors = \"a.ndjson\", actor = \"hero\" }\n",
        )
        .unwrap();
        assert_eq!(p.rules, Path::new("/game/rules/rpg"));
        let s = p.sample.unwrap();
        assert_eq!((s.actors.as_path(), s.actor.as_deref()), (Path::new("/game/a.ndjson"), Some("hero")));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = Project::parse(Path::new("actorc.toml"), "rules = \"r\"\nrule = 1\n").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }
}
