# Fuzz targets.  Without libFuzzer each links a replay main that runs the
# committed corpus and a seeded mutation loop; see tests/fuzz/fuzz_decode.c.
# To fuzz for real: clang -DANOMD_LIBFUZZER -fsanitize=fuzzer,address ...
check_PROGRAMS += tests/fuzz/fuzz_decode
TESTS += tests/fuzz/fuzz_decode
tests_fuzz_fuzz_decode_SOURCES = tests/fuzz/fuzz_decode.c
tests_fuzz_fuzz_decode_CFLAGS = $(AM_CFLAGS) $(PCAP_CFLAGS)
tests_fuzz_fuzz_decode_LDADD = capture/libcapture.a $(PCAP_LIBS) -lm

# Written by tests/fuzz/mkcorpus.py, which prints this list.
EXTRA_DIST += tests/fuzz/mkcorpus.py tests/fuzz/fuzz-util.h \
	tests/fuzz/corpus/decode/eth-arp \
	tests/fuzz/corpus/decode/eth-ext6-later \
	tests/fuzz/corpus/decode/eth-ext6-tcp \
	tests/fuzz/corpus/decode/eth-frag4-first \
	tests/fuzz/corpus/decode/eth-frag4-later \
	tests/fuzz/corpus/decode/eth-gre4 \
	tests/fuzz/corpus/decode/eth-icmp4-unreach \
	tests/fuzz/corpus/decode/eth-icmp6-unreach \
	tests/fuzz/corpus/decode/eth-tcp4-dns \
	tests/fuzz/corpus/decode/eth-tcp4-opts \
	tests/fuzz/corpus/decode/eth-tcp4-syn \
	tests/fuzz/corpus/decode/eth-udp4-dns \
	tests/fuzz/corpus/decode/eth-udp4-dns-padded \
	tests/fuzz/corpus/decode/eth-udp6-dns-response \
	tests/fuzz/corpus/decode/eth-vlan4-udp4 \
	tests/fuzz/corpus/decode/ipv4-echo \
	tests/fuzz/corpus/decode/ipv6-echo \
	tests/fuzz/corpus/decode/linktype-raw-udp6-dns \
	tests/fuzz/corpus/decode/loop-tcp6 \
	tests/fuzz/corpus/decode/null-udp4 \
	tests/fuzz/corpus/decode/qinq-tcp6 \
	tests/fuzz/corpus/decode/raw-udp4-dns-pointer \
	tests/fuzz/corpus/decode/sll-udp4-ntp \
	tests/fuzz/corpus/decode/sll2-tcp6 \
	tests/fuzz/corpus/decode/vlan-udp4

check_PROGRAMS += tests/fuzz/fuzz_conf
TESTS += tests/fuzz/fuzz_conf
tests_fuzz_fuzz_conf_SOURCES = tests/fuzz/fuzz_conf.c
tests_fuzz_fuzz_conf_LDADD = $(DAEMON_LDADD)

check_PROGRAMS += tests/fuzz/fuzz_control
TESTS += tests/fuzz/fuzz_control
tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz_control.c
tests_fuzz_fuzz_control_CFLAGS = $(AM_CFLAGS) $(EVENT_CFLAGS) $(CJSON_CFLAGS)
tests_fuzz_fuzz_control_LDADD = $(DAEMON_LDADD)

# fuzz_model and fuzz_pcap share the replay main in tests/fuzz/fuzz-main.h.
# Their seeds are written by tests/fuzz/mkcorpus-files.py (see
# tests/fuzz/README), which prints this list.
check_PROGRAMS += tests/fuzz/fuzz_model
TESTS += tests/fuzz/fuzz_model
tests_fuzz_fuzz_model_SOURCES = tests/fuzz/fuzz_model.c
tests_fuzz_fuzz_model_LDADD = model/libmodel.a -lm

check_PROGRAMS += tests/fuzz/fuzz_pcap
TESTS += tests/fuzz/fuzz_pcap
tests_fuzz_fuzz_pcap_SOURCES = tests/fuzz/fuzz_pcap.c
tests_fuzz_fuzz_pcap_CFLAGS = $(AM_CFLAGS) $(PCAP_CFLAGS)
tests_fuzz_fuzz_pcap_LDADD = capture/libcapture.a $(PCAP_LIBS) -lm

EXTRA_DIST += tests/fuzz/fuzz-main.h tests/fuzz/mkcorpus-files.py \
	tests/fuzz/README \
	tests/fuzz/corpus/pcap/bad-version.pcap \
	tests/fuzz/corpus/pcap/caplen-huge.pcap \
	tests/fuzz/corpus/pcap/caplen-over-len.pcap \
	tests/fuzz/corpus/pcap/header-only.pcap \
	tests/fuzz/corpus/pcap/pcapng-bad-blocklen \
	tests/fuzz/corpus/pcap/pcapng-mixed \
	tests/fuzz/corpus/pcap/pcapng-truncated \
	tests/fuzz/corpus/pcap/raw-ip.pcap \
	tests/fuzz/corpus/pcap/sample-40.pcap \
	tests/fuzz/corpus/pcap/sample-40.pcapng \
	tests/fuzz/corpus/pcap/sample-6-be-nsec.pcap \
	tests/fuzz/corpus/pcap/snaplen-small.pcap \
	tests/fuzz/corpus/pcap/truncated-record.pcap \
	tests/fuzz/corpus/pcap/ts-extremes.pcap \
	tests/fuzz/corpus/pcap/unsupported-link.pcap \
	tests/fuzz/corpus/model/elu-all-log \
	tests/fuzz/corpus/model/meaning-dropped-max \
	tests/fuzz/corpus/model/meaning-flags \
	tests/fuzz/corpus/model/meaning-group-2 \
	tests/fuzz/corpus/model/meaning-p99-below-p50 \
	tests/fuzz/corpus/model/meaning-threshold-0 \
	tests/fuzz/corpus/model/meaning-threshold-1e-45 \
	tests/fuzz/corpus/model/meaning-threshold-ctx-nan \
	tests/fuzz/corpus/model/meaning-threshold-own-0 \
	tests/fuzz/corpus/model/meaning-train-0 \
	tests/fuzz/corpus/model/meaning-train-max \
	tests/fuzz/corpus/model/no-groups \
	tests/fuzz/corpus/model/note-empty \
	tests/fuzz/corpus/model/note-longest \
	tests/fuzz/corpus/model/pot-rule \
	tests/fuzz/corpus/model/real \
	tests/fuzz/corpus/model/regress-huge-weight \
	tests/fuzz/corpus/model/relu
