//! A trace in other tools' formats: a pcap file for tshark and Wireshark, a packetdrill script.

pub mod packetdrill;
pub mod pcap;
