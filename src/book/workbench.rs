//! The "Your trace" page's drop zone (`{{#your-trace}}`): the markup `book/replay/workbench.js`
//! brings to life. Served by `trace book serve`, it sends the dropped file to
//! [`super::upload::ENDPOINT`]; opened from `file://`, it says what it needs instead, since
//! the steps of a replay are computed by `trace`, not in the page.

use super::markup::{esc, states_template};
use super::upload::{ENDPOINT, MAX_BYTES};

/// The drop zone, with the state diagram's template for the replay it will show (the page has
/// no replay of its own to carry it). One line: a blank line would end mdBook's HTML block.
pub fn drop_zone() -> String {
    format!(
        "<div class=\"st-workbench\" data-endpoint=\"{}\" data-max-bytes=\"{MAX_BYTES}\">{}\
         <label class=\"st-drop\"><span>Drop a trace (<code>.jsonl</code>) or a capture (<code>.pcap</code>, <code>.pcapng</code>) here, or choose one:</span> \
         <input type=\"file\" class=\"st-file\" accept=\".jsonl,.json,.pcap,.pcapng,.cap\"></label>\
         <p class=\"st-workbench-error\" role=\"alert\"></p>\
         <p class=\"st-workbench-offline\" hidden>Replaying your own trace needs <code>trace book serve</code>: the steps are \
         computed by <code>trace</code>, as <code>trace replay</code> computes them, not in the page. Run it from the repository \
         and open this page at the address it prints, or make a page of your trace that opens anywhere: \
         <code>trace replay --html mine.jsonl</code>.</p>\
         <div class=\"st-workbench-result\"></div></div>",
        esc(ENDPOINT),
        states_template()
    )
}
