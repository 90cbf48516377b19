//! The netfilter rule that hands one packet of the session to our queue: a chain of our own,
//! jumped to from the `filter` table's INPUT, that matches the session's TCP packets arriving
//! on `lo` of the kind to lose, and only the first of them (a `limit` of one a day with a
//! burst of one), so that no other packet takes the detour through userspace. The packet is
//! held after it crossed `lo`, where the packet lens saw it, and before the receiving socket
//! does. Installed and removed with `iptables` (`ip6tables` for IPv6); removed when the guard
//! is dropped, and chains left by a killed session are removed by the next one.

use std::io;
use std::process::Command;

use crate::fault::Lost;

/// Every chain we make starts with this, followed by the owner's pid and a number.
const CHAIN_PREFIX: &str = "socktrace-drop-";

/// What the rule needs that the system lacks, or what refused it.
#[derive(Debug)]
pub enum RuleError {
    /// The `iptables` command is not installed.
    Missing {
        tool: &'static str,
    },
    /// `iptables` ran and refused (no CAP_NET_ADMIN, a kernel without the NFQUEUE target).
    Refused {
        tool: &'static str,
        args: String,
        stderr: String,
    },
    Io(io::Error),
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleError::Missing { tool } => write!(f, "`{tool}` is not installed: install it (Debian: apt-get install iptables)"),
            RuleError::Refused { tool, args, stderr } => {
                write!(f, "`{tool} {args}` failed: {} (it needs root or CAP_NET_ADMIN, and the kernel's NFQUEUE target)", stderr.trim())
            }
            RuleError::Io(err) => write!(f, "cannot run iptables: {err}"),
        }
    }
}

/// Our chain, jumped to from INPUT, that queues one packet of the session on `lo`.
pub struct QueueRule {
    tool: &'static str,
    chain: String,
    removed: bool,
}

fn tool(ipv6: bool) -> &'static str {
    if ipv6 {
        "ip6tables"
    } else {
        "iptables"
    }
}

fn run(tool: &'static str, args: &[&str]) -> Result<String, RuleError> {
    // -w: wait for the xtables lock that other users of iptables may hold.
    let out = Command::new(tool).arg("-w").args(args).output().map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => RuleError::Missing { tool },
        _ => RuleError::Io(err),
    })?;
    if !out.status.success() {
        return Err(RuleError::Refused { tool, args: args.join(" "), stderr: String::from_utf8_lossy(&out.stderr).into_owned() });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl QueueRule {
    /// Queues on `queue` the first TCP packet to or from `port` arriving on `lo` that looks
    /// like kind `lost` (by its flags and length; the dropper checks it). `--queue-bypass`:
    /// should our queue go away, the packet passes instead of being dropped.
    pub fn install(ipv6: bool, port: u16, lost: Lost, queue: u16, serial: u32) -> Result<QueueRule, RuleError> {
        let tool = tool(ipv6);
        remove_stale(tool);
        let chain = format!("{CHAIN_PREFIX}{}-{serial}", std::process::id());
        run(tool, &["-N", &chain])?;
        // From here on the guard removes whatever part was installed.
        let rule = QueueRule { tool, chain, removed: false };
        let (port, queue) = (port.to_string(), queue.to_string());
        let mut args = vec!["-A", &rule.chain, "-i", "lo", "-p", "tcp", "-m", "multiport", "--ports", &port];
        let length = prefilter_length(lost, ipv6);
        args.extend(["--tcp-flags", "SYN,ACK,FIN,RST", prefilter_flags(lost)]);
        if let Some(length) = &length {
            args.extend(["-m", "length", "--length", length]);
        }
        args.extend(["-m", "limit", "--limit", "1/day", "--limit-burst", "1"]);
        args.extend(["-j", "NFQUEUE", "--queue-num", &queue, "--queue-bypass"]);
        run(tool, &args)?;
        run(tool, &["-I", "INPUT", "1", "-j", &rule.chain])?;
        Ok(rule)
    }

    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// Removes the jump and the chain; says what could not be removed.
    pub fn remove(mut self) -> Result<(), RuleError> {
        self.removed = true;
        remove_chain(self.tool, &self.chain)
    }
}

impl Drop for QueueRule {
    fn drop(&mut self) {
        if !self.removed {
            if let Err(err) = remove_chain(self.tool, &self.chain) {
                eprintln!("trace: could not remove the --drop rule {}: {err}", self.chain);
            }
        }
    }
}

/// The flags (among SYN, ACK, FIN, RST) of the packets of kind `lost`.
fn prefilter_flags(lost: Lost) -> &'static str {
    match lost {
        Lost::Syn => "SYN",
        Lost::SynAck => "SYN,ACK",
        Lost::Ack | Lost::Data => "ACK",
        Lost::Fin => "FIN,ACK",
    }
}

/// The IP packet lengths that tell a pure ACK from data, assuming the timestamps option that
/// Linux puts on every segment (RFC 7323; `net.ipv4.tcp_timestamps`): IP header, 20 bytes of
/// TCP header and 12 of options.
fn prefilter_length(lost: Lost, ipv6: bool) -> Option<String> {
    let pure_ack = if ipv6 { 40 } else { 20 } + 20 + 12;
    match lost {
        Lost::Ack => Some(format!("0:{pure_ack}")),
        Lost::Data => Some(format!("{}:65535", pure_ack + 1)),
        Lost::Syn | Lost::SynAck | Lost::Fin => None,
    }
}

/// Removes a chain of ours: first the jump to it (absent if installing stopped early), then
/// its rules, then the chain.
fn remove_chain(tool: &'static str, chain: &str) -> Result<(), RuleError> {
    let _ = run(tool, &["-D", "INPUT", "-j", chain]);
    run(tool, &["-F", chain])?;
    run(tool, &["-X", chain])?;
    Ok(())
}

/// The chains of ours that exist now (`-S` lists them as `-N NAME`).
pub fn chains(ipv6: bool) -> Result<Vec<String>, RuleError> {
    let listing = run(tool(ipv6), &["-S"])?;
    Ok(listing.lines().filter_map(|l| l.strip_prefix("-N ")).filter(|c| c.starts_with(CHAIN_PREFIX)).map(String::from).collect())
}

/// Removes the chains of sessions whose process is gone (killed before it could clean up).
fn remove_stale(tool: &'static str) {
    let Ok(chains) = chains(tool == "ip6tables") else { return };
    for chain in chains {
        let pid = chain.strip_prefix(CHAIN_PREFIX).and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = remove_chain(tool, &chain);
        }
    }
}
