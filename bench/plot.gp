# Draws one size sweep written by bench_summary --plots: latency against size
# and, when the suite measures it, bandwidth against size. Called by
# scripts/bench.sh as
#   gnuplot -e "datafile='F.dat'; n=4; has_gbps=1; name='suite case'; \
#               outbase='bench/out/suite.case'" bench/plot.gp
# Columns of F.dat: bytes, then n columns of median ns (one per impl), then,
# with has_gbps, n columns of GB/s in the same order.
set terminal svg size 900,560 dynamic enhanced font 'sans,11'
set datafile missing 'NaN'
set key left top box opaque
set grid
set logscale x 2
set format x '%.0s%cB'
set xlabel 'block size (bytes)'

set output outbase.'.latency.svg'
set title name.': median time per operation (lower is better)'
set logscale y 10
set ylabel 'ns per operation'
plot for [i=2:n+1] datafile using 1:i with linespoints lw 2 pt 7 ps 0.6 \
     title columnheader(i)

if (has_gbps) {
  set output outbase.'.bandwidth.svg'
  set title name.': bandwidth (higher is better)'
  unset logscale y
  set yrange [0:*]
  set ylabel 'GB/s'
  plot for [i=n+2:2*n+1] datafile using 1:i with linespoints lw 2 pt 7 \
       ps 0.6 title columnheader(i)
}
