# summarize.awk — medians and ratios of a fsbench.sh results file.
#
# Input (tab-separated, one measurement a line): run, metric, system, value
# ("NA" when the command failed).  Variables: systems (space-separated),
# subject (the lsmfs system the ratios are of; default "lsmfs"), mode (""
# for the Markdown table, "plot" for gnuplot's data: metric and the ratios),
# ratios_only (1: the subject's medians and ratios, not every system's).
# Ratios compare the subject with every system whose name does not start
# with "lsmfs".
#
# A ratio is always "speed of lsmfs / speed of the other": above 1 lsmfs
# is faster.  Metrics in seconds are inverted for that (other / lsmfs);
# the others are rates already.  Medians ignore NA; no value gives NA.
#
# Thread rules: none.
function unit(m) {
	if (m ~ /^(create_|stat_all|rm_rf|rm_15k)/) return "files/s"
	if (m ~ /^seq_/) return "MiB/s"
	if (m ~ /^(rand_|append_)/) return "IOPS"
	return "s"
}
function median(m, s,    n, i, j, t, v) {
	n = 0
	for (i = 1; i <= cnt[m, s]; i++)
		if (val[m, s, i] != "NA")
			v[++n] = val[m, s, i] + 0
	if (n == 0) return "NA"
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	if (n % 2) return v[(n + 1) / 2]
	return (v[n / 2] + v[n / 2 + 1]) / 2
}
function ratio(m, s,    a, b) {
	a = median(m, subject); b = median(m, s)
	if (a == "NA" || b == "NA" || a == 0 || b == 0) return "NA"
	return unit(m) == "s" ? b / a : a / b
}
function fmt(x) {
	if (x == "NA") return x
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}
/^#/ || NF < 4 { next }
{
	if (!(($2) in seen)) { seen[$2] = 1; order[++nm] = $2 }
	cnt[$2, $3]++
	val[$2, $3, cnt[$2, $3]] = $4
}
END {
	if (subject == "") subject = "lsmfs"
	na = split(systems, all, " ")
	ns = 0; no = 0; haveL = 0
	for (i = 1; i <= na; i++) {
		if (all[i] == subject) haveL = 1
		if (all[i] !~ /^lsmfs/) other[++no] = all[i]
		if (!ratios_only || all[i] == subject) sys[++ns] = all[i]
	}
	if (mode == "plot") {
		printf "metric"
		for (i = 1; i <= no; i++) printf "\t%s", other[i]
		printf "\n"
		for (k = 1; k <= nm; k++) {
			printf "%s", order[k]
			for (i = 1; i <= no; i++) {
				r = ratio(order[k], other[i])
				printf "\t%s", r == "NA" ? "NaN" : r
			}
			printf "\n"
		}
		exit
	}
	printf "| metric | unit |"
	for (i = 1; i <= ns; i++) printf " %s |", sys[i]
	if (haveL) for (i = 1; i <= no; i++) printf " %s/%s |", subject, other[i]
	printf "\n|---|---|"
	for (i = 1; i <= ns; i++) printf "---:|"
	if (haveL) for (i = 1; i <= no; i++) printf "---:|"
	printf "\n"
	for (k = 1; k <= nm; k++) {
		m = order[k]
		printf "| %s | %s |", m, unit(m)
		for (i = 1; i <= ns; i++) printf " %s |", fmt(median(m, sys[i]))
		if (haveL) for (i = 1; i <= no; i++) printf " %s |", fmt(ratio(m, other[i]))
		printf "\n"
	}
	if (!ratios_only)
		printf "\nMedians of every run; a ratio is lsmfs's speed over the other's (above 1: lsmfs faster).\n"
}
