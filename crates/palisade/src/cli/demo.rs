//! `palisade demo`: the whole gateway on one machine in one command. SQLite in `--dir`,
//! a simulated model named `demo`, an admin token and a user key created once and kept in
//! `<dir>/credentials.json` (mode 0600, reused on the next run while still valid), and a
//! ready-to-paste curl and Python example.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use palisade_config::LogFormat;
use palisade_policy::identity::{
    AdminAuthenticator, AdminRole, AdminTokenRecord, ApiKeyRecord, Authenticator, IdentityStore,
    User,
};
use palisade_policy::time::unix_now;
use serde::{Deserialize, Serialize};

use crate::files::write_private;
use crate::{app, logging};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data-plane port (OpenAI-compatible API).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Admin API port.
    #[arg(long, default_value_t = 8081)]
    admin_port: u16,
    /// Where the demo keeps its database and credentials.
    #[arg(long, default_value = "./palisade-demo")]
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Credentials {
    api_key: String,
    admin_token: String,
}

const DEMO_USER: &str = "demo-user";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    create_private_dir(&args.dir)?;
    let db = args.dir.join("palisade.db");
    let policies = args.dir.join("policies.cedar");
    if !policies.exists() {
        write_private(
            &policies,
            palisade_policy::authz::DEFAULT_POLICIES.as_bytes(),
        )?;
    }
    let config_text = demo_config(args.port, args.admin_port, &args.dir, &db, &policies);
    let config = palisade_config::parse_str(&config_text, |_| None).context("demo config")?;
    logging::init("warn,palisade=info", LogFormat::Text);
    let store = crate::app::connect_store(&config)
        .await
        .context("cannot open the demo database")?;

    let creds_path = args.dir.join("credentials.json");
    let creds = match reuse_credentials(&creds_path, &store.identity).await {
        Some(creds) => creds,
        None => {
            let creds = mint_credentials(store.identity.as_ref()).await?;
            write_private(&creds_path, &serde_json::to_vec_pretty(&creds)?)?;
            creds
        }
    };
    let running = app::start(&config, &store, None).await?;
    print_banner(&running, &creds, &creds_path);
    let result = running.run_until_signal().await;
    store.close().await;
    result
}

fn demo_config(port: u16, admin_port: u16, dir: &Path, db: &Path, policies: &Path) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin_port}"
[store]
url = "sqlite://{db}"
max_connections = 4
[logging]
format = "text"
[policy]
file = "{policies}"
[audit]
signing_key_file = "{dir}/audit-signing.key"
master_key_file = "{dir}/audit-master.key"
capture = "full"
[[providers]]
name = "simulated"
kind = "simulated"
latency_ms = 40
chunk_interval_ms = 25
[[models]]
name = "demo"
provider = "simulated"
upstream_model = "palisade-simulated-1"
"#,
        db = db.display(),
        dir = dir.display(),
        policies = policies.display(),
    )
}

/// Reuses saved credentials when both still authenticate.
async fn reuse_credentials(
    path: &Path,
    identity: &std::sync::Arc<dyn IdentityStore>,
) -> Option<Credentials> {
    let creds: Credentials = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let keys = Authenticator::new(std::sync::Arc::clone(identity), std::time::Duration::ZERO);
    keys.authenticate(Some(&creds.api_key)).await.ok()?;
    let admins = AdminAuthenticator::new(std::sync::Arc::clone(identity), None);
    admins.authenticate(Some(&creds.admin_token)).await.ok()?;
    Some(creds)
}

async fn mint_credentials(identity: &dyn IdentityStore) -> anyhow::Result<Credentials> {
    let now = unix_now();
    let user = match identity.find_user(DEMO_USER).await? {
        Some(user) => user,
        None => {
            let user = User {
                id: palisade_policy::identity::secret::new_id("usr_"),
                name: DEMO_USER.into(),
                groups: vec!["demo".into()],
                created_at: now,
                disabled: false,
            };
            identity.create_user(&user).await?;
            user
        }
    };
    let (key, api_key) = ApiKeyRecord::mint(&user.id, Some("demo".into()), None, now);
    identity.insert_api_key(&key).await?;
    let (token, admin_token) =
        AdminTokenRecord::mint(AdminRole::Admin, Some("demo-admin".into()), now);
    identity.insert_admin_token(&token).await?;
    Ok(Credentials {
        api_key,
        admin_token,
    })
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn print_banner(running: &app::Running, creds: &Credentials, creds_path: &Path) {
    let base = format!("http://{}/v1", running.data_addr);
    let admin = format!("http://{}", running.admin_addr);
    // `cargo run` leaves the binary in the target directory, not on PATH: the commands
    // below name it where it is.
    let exe =
        std::env::current_exe().map_or_else(|_| "palisade".into(), |p| p.display().to_string());
    println!(
        r#"
Palisade demo is running.

  OpenAI-compatible API  {base}
  Admin API              {admin}/admin/v1   (metrics: {admin}/metrics, with the admin token)
  Model                  demo  (simulated)
  Credentials            {creds} (mode 0600)
  Policies               {policies} (Cedar; edit, then `kill -HUP` or `{exe} policy apply <file>`)
  Audit log              every request and admin call, content captured encrypted (key {master})

  API key      {key}
  Admin token  {token}

Try it:

  curl {base}/chat/completions \
    -H "Authorization: Bearer {key}" \
    -H "Content-Type: application/json" \
    -d '{{"model": "demo", "messages": [{{"role": "user", "content": "Hello, Palisade!"}}]}}'

Or with the OpenAI Python SDK:

  from openai import OpenAI
  client = OpenAI(base_url="{base}", api_key="{key}")
  reply = client.chat.completions.create(model="demo", messages=[{{"role": "user", "content": "Hello!"}}])
  print(reply.choices[0].message.content)

Admin CLI:

  export PALISADE_ADMIN_URL={admin} PALISADE_ADMIN_TOKEN={token}
  {exe} keys list
  {exe} audit search
  curl -H "Authorization: Bearer {token}" {admin}/metrics

Verify the audit log (tamper evidence; works while the demo runs):

  {exe} audit verify --store sqlite://{db} --public-key {pubkey}

Press Ctrl-C to stop.
"#,
        creds = creds_path.display(),
        policies = creds_path.with_file_name("policies.cedar").display(),
        master = creds_path.with_file_name("audit-master.key").display(),
        db = creds_path.with_file_name("palisade.db").display(),
        pubkey = creds_path.with_file_name("audit-signing.key.pub").display(),
        key = creds.api_key,
        token = creds.admin_token,
    );
}
