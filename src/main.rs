//! The `switchboard` command: serves by default; `create-admin` and `bot-token` bootstrap
//! a fresh database from the command line.

use clap::{Parser, Subcommand};

use switchboard::accounts::{self, SpecialistInput};
use switchboard::auth::{load_or_create_secret, TokenKeys};
use switchboard::config::Config;
use switchboard::db;
use switchboard::domain::Role;
use switchboard::startup::Application;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Real-time live-chat support server"
)]
struct Cli {
    #[command(flatten)]
    config: Config,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Create an admin account.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value = "Admin")]
        name: String,
    },
    /// Create a bot and print its API token.
    BotToken {
        #[arg(long)]
        name: String,
    },
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    return_large_blocks_to_the_system();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config),
        Command::CreateAdmin {
            email,
            password,
            name,
        } => create_admin(&cli.config, email, password, name),
        Command::BotToken { name } => bot_token(&cli.config, &name),
    };
    if let Err(error) = outcome {
        eprintln!("switchboard: {error}");
        std::process::exit(1);
    }
}

/// Blocks of 128 KiB and more (glibc's default threshold, kept fixed) are mapped for
/// themselves and unmapped when freed. glibc otherwise raises that threshold to the
/// largest block freed so far, and keeps later such blocks in the freeing thread's
/// arena: each password hash (argon2 needs 19 MiB) then stayed in the RSS once per
/// blocking thread that ever ran one (about 200 MiB after a dozen failed logins), and
/// so did the replies of up to 256 KiB queued for sockets that were then dropped.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting; it runs before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn serve(config: Config) -> Result<(), BoxError> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config).await?;
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn create_admin(
    config: &Config,
    email: String,
    password: String,
    name: String,
) -> Result<(), BoxError> {
    db::migrate(&config.database_url)?;
    let new = accounts::new_specialist(SpecialistInput {
        email,
        name,
        password,
        role: Some(Role::Admin),
        skills: Vec::new(),
        languages: None,
        max_concurrent_chats: None,
    })?;
    let mut conn = connect(config)?;
    let admin = accounts::insert_specialist(&mut conn, &new)?;
    println!("created admin {} <{}>", admin.id, admin.email);
    Ok(())
}

fn bot_token(config: &Config, name: &str) -> Result<(), BoxError> {
    db::migrate(&config.database_url)?;
    let secret = load_or_create_secret(config.jwt_secret.as_deref(), &config.data_dir)?;
    let mut conn = connect(config)?;
    let (_, token) = accounts::create_bot(&mut conn, &TokenKeys::new(&secret), name)?;
    println!("{token}");
    Ok(())
}

fn connect(config: &Config) -> Result<diesel::PgConnection, BoxError> {
    use diesel::Connection;
    Ok(diesel::PgConnection::establish(&config.database_url)?)
}
