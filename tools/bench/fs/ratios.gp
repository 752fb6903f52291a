# ratios.gp — bar chart of lsmfs's speed relative to each other system, one
# group of bars per metric, from the data fsbench.sh --plot writes (metric,
# then one ratio column per system; NaN where unknown).  Log scale: 1 is
# parity, above it lsmfs is faster.  Called with -e "datafile='...';
# outfile='...'" (an .svg or .png name).
if (strstrt(outfile, ".png") > 0) {
	set terminal pngcairo noenhanced size 1200,600 font ",10"
} else {
	set terminal svg noenhanced size 1200,600 dynamic font ",11"
}
set output outfile
set title "lsmfs speed relative to other filesystems (median; >1 = lsmfs faster)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y 10
set yrange [0.01:100]
set grid ytics
set key top left
set xtics rotate by -35
set ylabel "lsmfs / other"
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2
plot for [c=2:*] datafile using c:xtic(1) title columnheader(c)
