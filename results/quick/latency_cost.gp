# latency_cost.gp: drawn by faasml report; edit and run `gnuplot latency_cost.gp` to restyle.
set terminal svg size 900,460 noenhanced font 'sans-serif,13' background rgb 'white'
set encoding utf8
set output 'latency_cost.svg'
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
set logscale y 10
set xlabel 'cost per 1M successful requests (USD)'
set ylabel 'p99 latency (ms)'
unset key
set offsets graph 0.08, graph 0.25, graph 0.15, 0
plot 'latency_cost.dat' using 1:2:3:4 with yerrorbars ls 1 pt 7 ps 1.4, \
     '' using 1:2:5 with labels left offset 1.2,0.6 font ',11' tc rgb '#333333'
