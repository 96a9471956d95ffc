# latency_cdf.gp: drawn by faasml report; edit and run `gnuplot latency_cdf.gp` to restyle.
set terminal svg size 900,440 noenhanced font 'sans-serif,13' background rgb 'white'
set encoding utf8
set output 'latency_cdf.svg'
set datafile separator '\t'
set border 3 lc rgb '#555555'
set tics nomirror textcolor rgb '#333333'
set grid lc rgb '#e6e6e6' lt 1
set key noautotitle box lc rgb '#cccccc' opaque
set style line 1 lc rgb '#4e79a7' lw 2.2 pt 7
set style line 2 lc rgb '#f28e2b' lw 2.2 pt 7
set style line 3 lc rgb '#59a14f' lw 2.2 pt 7
set style line 4 lc rgb '#e15759' lw 2.2 pt 7
set style line 5 lc rgb '#76b7b2' lw 2.2 pt 7
set style line 6 lc rgb '#edc948' lw 2.2 pt 7
set style line 7 lc rgb '#b07aa1' lw 2.2 pt 7
set style line 8 lc rgb '#9c755f' lw 2.2 pt 7
set xlabel 'latency (ms)'
set ylabel 'fraction of 2xx responses <= x'
set yrange [0:1.02]
set key bottom right
set logscale x 10
set arrow from 500, graph 0 to 500, graph 1 nohead dt 2 lw 1.5 lc rgb '#888888'
set label 'SLO 500 ms' at 500, graph 0.97 left offset 0.5,0 tc rgb '#666666'
plot 'latency_cdf.dat' index 0 using 1:2 with steps ls 1 title 'quick/lambda/sim (#1)', \
     'latency_cdf.dat' index 1 using 1:2 with steps ls 2 title 'quick/server/sim (#2)', \
     'latency_cdf.dat' index 2 using 1:2 with steps ls 4 title 'quick/gpu/sim (#4)'
