//! A trace in other tools' formats: a pcap file for tshark and Wireshark, a packetdrill script.

pub(crate) mod packetdrill;
pub(crate) mod pcap;
