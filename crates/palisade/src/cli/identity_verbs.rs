//! `palisade users|groups|keys|tokens …`: identity management through the admin API,
//! printed as a table or, with `--json`, as the API's JSON.

use clap::Subcommand;
use serde_json::{Value, json};

use super::AdminArgs;
use crate::admin_client::{AdminClient, cell, text, url_component};

#[derive(Debug, Subcommand)]
pub enum UsersVerb {
    /// Create a user (groups that do not exist yet are created).
    Create {
        name: String,
        /// A group to put the user in (repeatable).
        #[arg(long = "group", short)]
        groups: Vec<String>,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum GroupsVerb {
    /// Create a group.
    Create { name: String },
    /// List groups.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeysVerb {
    /// Create an API key for a user; the key is printed once.
    Create {
        /// The owning user (name or id).
        #[arg(long)]
        user: String,
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
        /// Expiry: RFC 3339 timestamp or unix seconds.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List keys (all, or one user's).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a key by id.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TokensVerb {
    /// Create an admin token with a role; the token is printed once.
    Create {
        /// `admin` (everything), `operator` (all but admin tokens, policies, audit
        /// management and erasure) or `auditor` (reads, audit content included).
        #[arg(long)]
        role: String,
        /// A label for the token.
        #[arg(long)]
        name: Option<String>,
    },
    /// List admin tokens (never their secrets).
    List,
    /// Revoke an admin token by id.
    Revoke { id: String },
}

pub async fn users(args: &AdminArgs, verb: UsersVerb) -> anyhow::Result<()> {
    let client = AdminClient::new(args)?;
    match verb {
        UsersVerb::Create { name, groups } => {
            let user = client
                .post("/admin/v1/users", &json!({"name": name, "groups": groups}))
                .await?;
            print_one(args, &user, &["id", "name", "groups"]);
        }
        UsersVerb::List => {
            let list = client.get_all("/admin/v1/users").await?;
            print_list(args, &list, &["id", "name", "groups", "disabled"]);
        }
    }
    Ok(())
}

pub async fn groups(args: &AdminArgs, verb: GroupsVerb) -> anyhow::Result<()> {
    let client = AdminClient::new(args)?;
    match verb {
        GroupsVerb::Create { name } => {
            let group = client
                .post("/admin/v1/groups", &json!({"name": name}))
                .await?;
            print_one(args, &group, &["name", "created_at"]);
        }
        GroupsVerb::List => print_list(
            args,
            &client.get_all("/admin/v1/groups").await?,
            &["name", "created_at"],
        ),
    }
    Ok(())
}

pub async fn keys(args: &AdminArgs, verb: KeysVerb) -> anyhow::Result<()> {
    let client = AdminClient::new(args)?;
    match verb {
        KeysVerb::Create {
            user,
            name,
            expires_at,
        } => {
            let expires: Option<Value> = expires_at.map(|e| {
                e.parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(e))
            });
            let created = client
                .post(
                    "/admin/v1/keys",
                    &json!({"user": user, "name": name, "expires_at": expires}),
                )
                .await?;
            print_secret_once(args, &created, &["id", "user", "name", "expires_at"], "key")?;
        }
        KeysVerb::List { user } => {
            let path = match user {
                Some(u) => format!("/admin/v1/keys?user={}", url_component(&u)),
                None => "/admin/v1/keys".to_owned(),
            };
            print_list(
                args,
                &client.get_all(&path).await?,
                &[
                    "id",
                    "user_id",
                    "name",
                    "created_at",
                    "expires_at",
                    "revoked_at",
                    "last_used_at",
                ],
            );
        }
        KeysVerb::Revoke { id } => {
            let key = client
                .delete(&format!("/admin/v1/keys/{}", url_component(&id)))
                .await?;
            print_one(args, &key, &["id", "revoked_at"]);
        }
    }
    Ok(())
}

pub async fn tokens(args: &AdminArgs, verb: TokensVerb) -> anyhow::Result<()> {
    let client = AdminClient::new(args)?;
    match verb {
        TokensVerb::Create { role, name } => {
            let created = client
                .post("/admin/v1/tokens", &json!({"role": role, "name": name}))
                .await?;
            print_secret_once(args, &created, &["id", "role", "name"], "token")?;
        }
        TokensVerb::List => print_list(
            args,
            &client.get_all("/admin/v1/tokens").await?,
            &["id", "role", "name", "created_at", "revoked_at"],
        ),
        TokensVerb::Revoke { id } => {
            // Answered 204: nothing to show but what was asked.
            client
                .delete(&format!("/admin/v1/tokens/{}", url_component(&id)))
                .await?;
            print_one(
                args,
                &json!({"id": id, "revoked": true}),
                &["id", "revoked"],
            );
        }
    }
    Ok(())
}

/// Prints a created key or token: its record, then the secret (`field`) with the
/// reminder that it is shown this once; with `--json`, the API's answer.
fn print_secret_once(
    args: &AdminArgs,
    v: &Value,
    cols: &[&str],
    field: &str,
) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        print_one(args, v, cols);
        println!(
            "\n{field}: {}\n(This is the only time the {field} is shown. Store it now.)",
            text(&v[field])
        );
    }
    Ok(())
}

fn print_one(args: &AdminArgs, v: &Value, cols: &[&str]) {
    if args.json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    for c in cols {
        println!("{c:<14} {}", cell(c, &v[*c]));
    }
}

fn print_list(args: &AdminArgs, v: &Value, cols: &[&str]) {
    if args.json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    let rows: Vec<Vec<String>> = v["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| cols.iter().map(|c| cell(c, &r[*c])).collect())
                .collect()
        })
        .unwrap_or_default();
    super::table::print(cols, &rows);
}
