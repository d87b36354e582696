# Sourced by tests/offline.sh: flow counts that must match tshark's
# conversation counts (tshark -r FILE -q -z conv,tcp -z conv,udp, counted
# 2026-11-27 with tshark 4.0).  Files whose flows split where tshark's
# conversations do not (a closed TCP flow restarted by a new SYN, ICMP
# flows, fragments without ports) are left out.
expect_flows "$shared/chappell_sec-dictionary2.pcapng" 543
expect_flows "$shared/chappell_sec-macof.pcapng" 13342
expect_flows "$shared/kihy_slowloris.pcap" 150
expect_flows "$shared/ndpi_WebattackSQLinj_cicids2017.pcap" 9
expect_flows "$shared/ndpi_dns-tunnel-iodine.pcap" 1
expect_flows "$shared/ndpi_dns_exfiltration_dnscat2.pcap" 1
expect_flows "$shared/sanders_arppoison.pcapng" 29
expect_flows "$shared/sanders_http_espn_benign.pcapng" 39
expect_flows "$shared/stopddos_pkt.TCP.synflood.spoofed.pcap" 37669
# sanders_synscan: tshark 1994 TCP conversations; anomd 1997 flows, since
# nmap probes the three open ports again after resetting them.
expect_flows "$shared/sanders_synscan.pcapng" 1997
