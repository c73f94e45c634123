//! Creating the people and bots who use Switchboard. Shared by the admin HTTP API and
//! the `create-admin` / `bot-token` subcommands, so both apply the same rules.

use diesel::pg::PgConnection;
use serde::Deserialize;

use crate::auth::{hash_password, TokenKeys};
use crate::db;
use crate::domain::inputs::{languages, required_text, skills, Email};
use crate::domain::{BotId, Role, SpecialistId};
use crate::error::{Error, Result};

/// Shortest password accepted; argon2 makes guessing slow, length makes it hopeless.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecialistInput {
    pub email: String,
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub languages: Option<Vec<String>>,
    #[serde(default)]
    pub max_concurrent_chats: Option<i32>,
}

pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > 1024 {
        return Err(Error::bad_request(format!(
            "password: {MIN_PASSWORD_CHARS} to 1024 characters"
        )));
    }
    Ok(())
}

pub fn check_capacity(max: i32) -> Result<i32> {
    if (1..=100).contains(&max) {
        Ok(max)
    } else {
        Err(Error::bad_request("max_concurrent_chats: 1 to 100"))
    }
}

pub fn check_staff_role(role: Role) -> Result<Role> {
    match role {
        Role::Specialist | Role::Admin => Ok(role),
        _ => Err(Error::bad_request("role: `specialist` or `admin`")),
    }
}

/// A new specialist whose every field passed its checks, waiting for the hash of its
/// password: the cheap checks come before the expensive hash.
pub struct CheckedSpecialist {
    specialist: db::specialists::NewSpecialist,
    password: String,
}

impl CheckedSpecialist {
    pub fn password(&self) -> &str {
        &self.password
    }

    pub fn with_hash(self, password_hash: String) -> db::specialists::NewSpecialist {
        db::specialists::NewSpecialist {
            password_hash,
            ..self.specialist
        }
    }
}

/// Checks every field of a new specialist.
pub fn check_specialist(input: SpecialistInput) -> Result<CheckedSpecialist> {
    let email = Email::parse(&input.email)?.into_inner();
    let name = required_text("name", &input.name, 100)?;
    check_password(&input.password)?;
    let role = check_staff_role(input.role.unwrap_or(Role::Specialist))?;
    let skills = skills("skills", &input.skills)?;
    let languages = match input.languages {
        Some(raw) => languages("languages", &raw)?,
        None => vec!["en".to_owned()],
    };
    let max_concurrent_chats = check_capacity(input.max_concurrent_chats.unwrap_or(3))?;
    Ok(CheckedSpecialist {
        specialist: db::specialists::NewSpecialist {
            id: SpecialistId::new(),
            email,
            name,
            password_hash: String::new(),
            role,
            skills,
            languages,
            max_concurrent_chats,
        },
        password: input.password,
    })
}

/// Checks the input and hashes the password here (the command line's `create-admin`).
pub fn new_specialist(input: SpecialistInput) -> Result<db::specialists::NewSpecialist> {
    let checked = check_specialist(input)?;
    let hash = hash_password(checked.password())?;
    Ok(checked.with_hash(hash))
}

pub fn insert_specialist(
    conn: &mut PgConnection,
    new: &db::specialists::NewSpecialist,
) -> Result<db::specialists::Specialist> {
    db::specialists::insert(conn, new).map_err(|e| match Error::from(e) {
        e if e.code == crate::error::ErrorCode::Conflict => {
            Error::conflict("a specialist with this e-mail already exists")
        }
        other => other,
    })
}

/// Creates a bot and its first token.
pub fn create_bot(
    conn: &mut PgConnection,
    tokens: &TokenKeys,
    name: &str,
) -> Result<(db::bots::Bot, String)> {
    let name = required_text("name", name, 100)?;
    let bot = db::bots::insert(conn, BotId::new(), &name)?;
    let token = tokens.issue(bot.id.0, Role::Bot)?;
    Ok((bot, token))
}
