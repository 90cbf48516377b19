//! The model beside the kernel: in a live trace, each kernel state change carries the state
//! the RFC 9293 model, shadowing the socket, expected. Where they differ, either a documented
//! Linux difference explains it (a note, shown with the step) or nothing does: a finding,
//! noted with the whole trace. A finding is about the kernel and the model, not about the
//! program: it is never a deviation of the program's own.

use crate::event::{Body, Origin};
use crate::tcp::linux;
use crate::trace::{LensStatus, Trace};

/// One line per kernel state change that the model did not expect and no documented Linux
/// difference explains.
pub(super) fn disagreements(trace: &Trace) -> Vec<String> {
    // The model follows the segments: without them its expectations say nothing.
    if trace.header.lenses.packets != LensStatus::Observed {
        return Vec::new();
    }
    trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.origin == Origin::Observed)
        .filter_map(|(i, e)| match &e.body {
            Body::State(change) => {
                let model = change.model?;
                (model != change.to && linux::explains(change.to, model).is_none()).then(|| {
                    format!(
                        "finding: #{}: the kernel moved {} from {} to {} where the RFC 9293 model, fed the same calls and segments, expected {model} (a reaction of the kernel's that the model does not make: not a step the program missed)",
                        i + 1,
                        e.socket.as_ref().map_or("a socket", |s| s.0.as_str()),
                        change.from,
                        change.to
                    )
                })
            }
            _ => None,
        })
        .collect()
}
