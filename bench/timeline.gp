# Draws the memory timeline of one replayed log: one panel per allocator,
# bytes (MiB) against the event index. Called by scripts/bench.sh as
#   gnuplot -e "name='batches'; files='A.dat B.dat'; labels='tensorpool glibc'; \
#               out='bench/out/replay.batches.timeline.png'" bench/timeline.gp
# Columns of each file (written by tp_replay --timeline): event, requested,
# live, reserved, largest_free, resident; NaN where the allocator cannot say
# (the peers know no largest free block, mimalloc no live bytes). Each row
# is the maximum over a run of events, so peaks survive the downsampling.
n = words(files)
set terminal pngcairo size 1100, 260 * n + 60 font 'sans,9'
set output out
set datafile missing 'NaN'
set key outside right top
set grid
set ylabel 'MiB'
set multiplot layout n, 1 title name.': memory over the replayed events (blocks written once)'
do for [i = 1:n] {
  f = word(files, i)
  set title word(labels, i)
  if (i == n) { set xlabel 'event' } else { unset xlabel }
  plot f using 1:2 with lines lw 2 lc rgb '#000000' title 'requested', \
       f using 1:3 with lines lw 1 lc rgb '#1f77b4' title 'live', \
       f using 1:4 with lines lw 1 lc rgb '#d62728' title 'reserved', \
       f using 1:6 with lines lw 1 lc rgb '#2ca02c' title 'resident', \
       f using 1:5 with lines lw 1 dt 2 lc rgb '#9467bd' title 'largest free'
}
unset multiplot
