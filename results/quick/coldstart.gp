# coldstart.gp: drawn by faasml report; edit and run `gnuplot coldstart.gp` to restyle.
set terminal svg size 900,440 noenhanced font 'sans-serif,13' background rgb 'white'
set encoding utf8
set output 'coldstart.svg'
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
set style data histograms
set style histogram rowstacked
set style fill solid 0.9 border rgb 'white'
set boxwidth 0.55
set ylabel 'mean time per instance (ms)'
set yrange [0:*]
set key outside right top vertical
set xtics rotate by -20 left
set bmargin 6
plot 'coldstart.dat' using 2:xtic(1) title 'spawn' lc rgb '#4e79a7', \
     'coldstart.dat' using 3 title 'runtime init' lc rgb '#f28e2b', \
     'coldstart.dat' using 4 title 'download' lc rgb '#59a14f', \
     'coldstart.dat' using 5 title 'load' lc rgb '#e15759', \
     'coldstart.dat' using 6 title 'warmup' lc rgb '#76b7b2'
