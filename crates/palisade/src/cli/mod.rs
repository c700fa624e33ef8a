//! The command line: one subcommand per verb. `serve` and `demo` run the gateway;
//! `config`, `policy check`, `audit verify` and `scan` work offline; `users`, `groups`, `keys`,
//! `subjects` and the other `policy` and `audit` verbs talk to a running admin API, like
//! kubectl does.

mod audit;
mod config_cmd;
mod demo;
mod identity_verbs;
mod policy;
mod scan;
mod serve;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version,
    about = "A secure gateway for AI models",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway with a config file.
    Serve {
        /// The TOML config file.
        #[arg(long, short, env = "PALISADE_CONFIG", default_value = "palisade.toml")]
        config: PathBuf,
    },
    /// Run a self-contained demo: gateway, simulated model, embedded SQLite, printed keys.
    Demo(demo::DemoArgs),
    /// Check or print configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Manage users (through the admin API).
    Users {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        verb: identity_verbs::UsersVerb,
    },
    /// Manage groups (through the admin API).
    Groups {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        verb: identity_verbs::GroupsVerb,
    },
    /// Check, show, apply and explain access policies.
    Policy {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        verb: policy::PolicyVerb,
    },
    /// Manage API keys (through the admin API).
    Keys {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        verb: identity_verbs::KeysVerb,
    },
    /// Manage admin tokens and their roles (through the admin API; role `admin` only).
    Tokens {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        verb: identity_verbs::TokensVerb,
    },
    /// The audit ledger: verify, search, export, tail, checkpoints, key rotation.
    Audit {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        verb: audit::AuditVerb,
    },
    /// Scan files or stdin with the gateway's detectors (exit 1 on findings).
    Scan(scan::ScanArgs),
    /// Data subjects: erase (crypto-shred) one's captured content.
    Subjects {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        verb: audit::SubjectsVerb,
    },
}

/// How to reach the admin API.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the admin API.
    #[arg(
        long,
        global = true,
        env = "PALISADE_ADMIN_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub admin_url: String,
    /// Admin token (prefer the environment variable: arguments show in `ps`).
    #[arg(
        long,
        global = true,
        env = "PALISADE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let done = match cli.command {
        Command::Scan(args) => return Ok(scan::run(args)),
        Command::Serve { config } => serve::run(&config).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Config(cmd) => config_cmd::run(cmd),
        Command::Users { admin, verb } => identity_verbs::users(&admin, verb).await,
        Command::Groups { admin, verb } => identity_verbs::groups(&admin, verb).await,
        Command::Keys { admin, verb } => identity_verbs::keys(&admin, verb).await,
        Command::Tokens { admin, verb } => identity_verbs::tokens(&admin, verb).await,
        Command::Policy { admin, verb } => policy::run(&admin, verb).await,
        Command::Audit { admin, verb } => audit::run(&admin, verb).await,
        Command::Subjects { admin, verb } => audit::subjects(&admin, verb).await,
    };
    done.map(|()| ExitCode::SUCCESS)
}
