# timeline_3.gp: drawn by faasml report; edit and run `gnuplot timeline_3.gp` to restyle.
set terminal svg size 900,560 noenhanced font 'sans-serif,13' background rgb 'white'
set encoding utf8
set output 'timeline_3.svg'
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
set multiplot layout 2,1 margins 0.11,0.9,0.1,0.97 spacing 0,0.08
set xrange [0:64]
set ylabel 'latency (ms)'
set key top right
set format x ''
set arrow 1 from graph 0, first 500 to graph 1, first 500 nohead dt 2 lw 1.5 lc rgb '#888888'
set label 2 'SLO' at graph 0.005, first 500 left offset 0,0.6 tc rgb '#666666'
plot 'timeline_3.dat' index 1 using 1:2 with points pt 7 ps 0.45 lc rgb '#e15759' title 'error or over SLO'
unset logscale y
unset arrow 1
unset label 2
set format x '%g'
set xlabel 'time since start of run (s)'
set ylabel 'arrivals (req/s)'
set y2label 'instances'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key top right
plot 'timeline_3.dat' index 2 using 1:2 with steps ls 1 lw 1.6 title 'arrival rate' axes x1y1, \
     'timeline_3.dat' index 3 using 1:2 with steps ls 2 lw 2.4 title 'instances' axes x1y2
unset multiplot
