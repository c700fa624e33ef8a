//! `palisade policy …`: validate a Cedar policy file locally, print the built-in default
//! set, and — through the admin API — show, apply and explain the policies in force.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use palisade_policy::authz::{DEFAULT_POLICIES, PolicyEngine};
use serde_json::{Value, json};

use super::AdminArgs;
use crate::admin_client::AdminClient;

#[derive(Debug, Subcommand)]
pub enum PolicyVerb {
    /// Validate a policy file against Palisade's schema (no server needed).
    Check { file: PathBuf },
    /// Print the built-in default policy set.
    Default,
    /// Print the policies in force on a running gateway.
    Show,
    /// Replace the policies in force with a file (validated first; atomic).
    Apply { file: PathBuf },
    /// Show the decision for a user and model, and which policies decide it.
    Explain {
        #[arg(long)]
        user: String,
        #[arg(long)]
        model: String,
        /// chat, embed or list_models.
        #[arg(long, default_value = "chat")]
        action: String,
        /// Context as key=value (purpose, client_ip, estimated_tokens, stream, api_key, time).
        #[arg(long = "context", value_parser = parse_pair)]
        context: Vec<(String, String)>,
    },
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not key=value"))
}

pub async fn run(args: &AdminArgs, verb: PolicyVerb) -> anyhow::Result<()> {
    match verb {
        PolicyVerb::Check { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let summary = PolicyEngine::check(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!(
                "{}: ok ({} policies: {})",
                file.display(),
                summary.policies,
                summary.ids.join(", ")
            );
        }
        PolicyVerb::Default => print!("{DEFAULT_POLICIES}"),
        PolicyVerb::Show => {
            let view = AdminClient::new(args)?.get("/admin/v1/policies").await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                print!("{}", view["source"].as_str().unwrap_or_default());
            }
        }
        PolicyVerb::Apply { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let view = AdminClient::new(args)?
                .put("/admin/v1/policies", &json!({"source": text}))
                .await?;
            println!("applied: {} policies in force", view["policies"]);
        }
        PolicyVerb::Explain {
            user,
            model,
            action,
            context,
        } => {
            let context: serde_json::Map<String, Value> = context
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let body = json!({"user": user, "model": model, "action": action, "context": context});
            let out = AdminClient::new(args)?
                .post("/admin/v1/policies/explain", &body)
                .await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let policies: Vec<&str> = out["policies"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                println!("decision  {}", out["decision"].as_str().unwrap_or("?"));
                println!(
                    "user      {} (groups: {})",
                    out["user"].as_str().unwrap_or(""),
                    out["groups"]
                );
                println!(
                    "model     {}  action {}",
                    out["model"].as_str().unwrap_or(""),
                    out["action"].as_str().unwrap_or("")
                );
                if policies.is_empty() {
                    println!("decided by: no policy applies (default deny)");
                } else {
                    println!("decided by: {}", policies.join(", "));
                }
                if let Some(errors) = out["errors"].as_array().filter(|e| !e.is_empty()) {
                    println!("evaluation errors: {errors:?}");
                }
            }
        }
    }
    Ok(())
}
