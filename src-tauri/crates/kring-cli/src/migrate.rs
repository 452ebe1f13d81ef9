//! `kring-cli migrate`: the vendor migration of UC4 (001 §7), run by the old
//! account's own session at the old vendor (`plan`, `run`, `status`), by a
//! care-team lead where that session is gone (`lead`), and by the new account
//! at the new vendor (`accept`).

use std::time::Duration;

use clap::Subcommand;
use kring_core::{CoreError, Session, migration};
use kring_store::MigrationJobs;

use crate::output::Output;

#[derive(Subcommand)]
pub enum MigrateCommand {
    /// What a move would do (the directory's new MXID, its verification at
    /// the new vendor's identity service, every room and level). Changes nothing.
    Plan {
        /// The organisation's mCSD directory (FHIR base URL).
        #[arg(long)]
        directory: String,
    },
    /// Carries the move out, or resumes it: levels, invites with the invite
    /// context, a notice per room; with --deactivate (password on standard
    /// input, or an administrator's token with --admin-token-stdin) the old
    /// account goes once every invite was accepted.
    Run {
        #[arg(long)]
        directory: String,
        /// Same as `plan`.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        deactivate: bool,
        /// Deactivate with a homeserver administrator's access token on
        /// standard input instead of the account's password (Synapse's
        /// admin API): for accounts that sign in only through SSO.
        #[arg(long, requires = "deactivate")]
        admin_token_stdin: bool,
        /// Days to wait for the invites before the leads are told and the
        /// old account may go without them (never while it leads alone).
        #[arg(long, default_value_t = 14.0)]
        timeout_days: f64,
        /// Fault injection for the tests: abort the process (no cleanup,
        /// like SIGKILL) right after the N-th step of this run was written.
        #[arg(long, hide = true)]
        abort_after: Option<u32>,
        /// Fault injection for the tests: abort right after the first notice
        /// was sent and before it was written down (`notice_sent`).
        #[arg(long, hide = true)]
        abort_at: Option<String>,
        /// Keep running as a service: every this many seconds, ask the
        /// directory what changed (ITI-91 `_history`, else `_lastUpdated`) and go on when it did or
        /// invites are outstanding; one report line per pass that ran the
        /// job. Ends once the old account is deactivated.
        #[arg(long, value_name = "SECONDS")]
        watch: Option<u64>,
    },
    /// A care-team lead moves a practitioner whose own session is gone: the
    /// same levels, invites and notices in every care team this account
    /// leads (100) that the old account is in, and their shared
    /// conversations. Verified at both identity services; no deactivation.
    /// Safe to run again.
    Lead {
        /// The practitioner's old MXID.
        #[arg(long)]
        from: String,
        /// The new MXID at the new vendor.
        #[arg(long)]
        to: String,
        /// Only the plan; changes nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Each move this profile runs: rooms, invited, accepted, failed, deactivated.
    Status,
    /// At the new vendor: accept the invites from this account's own old
    /// identity (verified at both identity services).
    Accept,
}

pub async fn migrate(
    session: &Session,
    jobs_path: &std::path::Path,
    command: &MigrateCommand,
    out: &Output,
) -> Result<(), CoreError> {
    let jobs = || async { MigrationJobs::open(jobs_path).await.map_err(|e| CoreError::Storage(e.to_string())) };
    match command {
        MigrateCommand::Plan { directory } | MigrateCommand::Run { directory, dry_run: true, .. } => {
            out.value(&session.plan_migration(directory).await?);
        }
        MigrateCommand::Run {
            directory,
            deactivate,
            admin_token_stdin,
            timeout_days,
            abort_after,
            abort_at,
            watch,
            ..
        } => {
            let secret = if *deactivate { Some(zeroize::Zeroizing::new(crate::read_password_stdin()?)) } else { None };
            let steps = std::sync::atomic::AtomicU32::new(0);
            let after_step = |step: &str| {
                if abort_at.as_deref() == Some(step) {
                    std::process::abort();
                }
                // Not a step of its own: the notice is one when written down.
                if step == "notice_sent" {
                    return;
                }
                let n = steps.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                if abort_after.is_some_and(|limit| n >= limit) {
                    std::process::abort();
                }
            };
            let options = migration::RunOptions {
                deactivate_with: secret.as_deref().map(|s| {
                    if *admin_token_stdin {
                        migration::Deactivation::AdminToken(s)
                    } else {
                        migration::Deactivation::Password(s)
                    }
                }),
                timeout: Duration::from_secs_f64((timeout_days * 86_400.0).max(0.0)),
                after_step: &after_step,
            };
            let jobs = jobs().await?;
            let Some(every) = watch else {
                let plan = session.plan_migration(directory).await?;
                out.value(&session.run_migration(&plan, &jobs, &options).await?);
                return Ok(());
            };
            let me = session.client().user_id().map(ToString::to_string).unwrap_or_default();
            let mut last_look: Option<i64> = None;
            loop {
                let outstanding = jobs
                    .jobs()
                    .await
                    .map_err(|e| CoreError::Storage(e.to_string()))?
                    .iter()
                    .any(|j| j.old_user_id == me && matches!(j.state.as_str(), "inviting" | "waiting"));
                let look = kring_store::now_ms();
                let changed = match last_look {
                    Some(since) if !outstanding => session.directory_changed_since(directory, since).await,
                    _ => Ok(true),
                };
                // A directory or homeserver that is down now is asked again
                // next time: the service keeps running.
                let pass = match changed {
                    Ok(false) => Ok(None),
                    Ok(true) => match session.plan_migration(directory).await {
                        Ok(plan) if plan.new_user_id.is_none() => Ok(None),
                        Ok(plan) => session.run_migration(&plan, &jobs, &options).await.map(Some),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                match pass {
                    Ok(Some(report)) => {
                        out.value(&report);
                        if report.deactivated {
                            return Ok(());
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(code = ?e.code(), "a pass of the migration watch failed; the next one tries again");
                        out.value(&serde_json::json!({"passFailed": {"code": e.code(), "message": e.to_string()}}));
                    }
                }
                last_look = Some(look);
                tokio::time::sleep(Duration::from_secs(*every)).await;
            }
        }
        MigrateCommand::Lead { from, to, dry_run } => {
            let plan = session.plan_lead_migration(from, to).await?;
            if *dry_run {
                out.value(&plan);
            } else {
                let options =
                    migration::RunOptions { deactivate_with: None, timeout: Duration::MAX, after_step: &|_: &str| {} };
                out.value(&session.run_migration(&plan, &jobs().await?, &options).await?);
            }
        }
        MigrateCommand::Status => out.value(&session.migration_status(&jobs().await?).await?),
        MigrateCommand::Accept => out.value(&session.accept_migration_invites().await?),
    }
    Ok(())
}
