# cost.gp: drawn by faasml report; edit and run `gnuplot cost.gp` to restyle.
set terminal svg size 900,460 noenhanced font 'sans-serif,13' background rgb 'white'
set encoding utf8
set output 'cost.svg'
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
set datafile missing '?'
unset key
set multiplot layout 1,2 margins 0.09,0.94,0.27,0.92 spacing 0.1,0
set style fill solid 0.85 noborder
set boxwidth 0.6
set xtics rotate by -35 left
set xrange [-0.6:2.6]
set yrange [0:*]
set offsets 0,0,graph 0.12,0
set title 'run cost (USD)'
plot 'cost.dat' using 1:3:xtic(2) with boxes lc rgb '#4e79a7', \
     '' using 1:3:(sprintf('$%.3g', $3)) with labels offset 0,0.7 font ',11'
set title 'cost per 1M successful requests (USD)'
plot 'cost.dat' using 1:4:xtic(2) with boxes lc rgb '#f28e2b', \
     '' using 1:4:(sprintf('$%.3g', $4)) with labels offset 0,0.7 font ',11'
unset multiplot
